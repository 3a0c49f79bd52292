from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sessions_ctx.models import EndReason
from sessions_ctx.services.sessions import sessions_revoke_all

from .models import Passkey, User
from .privacy.admin import ErasureRequestAdmin, erase_accounts  # noqa: F401


@admin.action(description=_("Sign out everywhere"), permissions=["change"])
def sign_out_everywhere(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[User]
) -> None:
    """Every active session of the selected customers ends (their tokens of those sessions
    revoked, their clients told by back-channel logout); the operator's own is kept."""
    keep = None
    ended = 0
    for user in queryset:
        if user.pk == request.user.pk:
            from sessions_ctx.services.sessions import current_session_id

            keep = current_session_id(request)
        ended += sessions_revoke_all(
            user=user, reason=EndReason.REVOKED_BY_OPERATOR, keep_session_id=keep
        )
        keep = None
    modeladmin.message_user(
        request, _("%(count)d sessions signed out.") % {"count": ended}, messages.SUCCESS
    )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "is_active", "is_staff", "date_joined", "last_login")
    search_fields = ("email",)
    actions = [erase_accounts, sign_out_everywhere]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Passkey)
class PasskeyAdmin(admin.ModelAdmin):
    """Operators see users' passkeys (support) but cannot create or edit them."""

    list_display = ("user", "name", "created", "last_used_at", "backed_up")
    list_select_related = ("user",)
    search_fields = ("user__email", "name")
    fields = ("user", "name", "sign_count", "aaguid", "backed_up", "created", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False
