from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Passkey, User
from .privacy.admin import ErasureRequestAdmin, erase_accounts  # noqa: F401


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "is_active", "is_staff", "date_joined", "last_login")
    search_fields = ("email",)
    actions = [erase_accounts]
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
