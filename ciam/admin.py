from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from oauth2_provider.admin import ApplicationAdmin as DOTApplicationAdmin
from oauth2_provider.models import get_application_model

from profiling.models import ClientProfileSettings

from .models import AuthorizationContext, BackchannelLogoutDelivery, SigningKey

Application = get_application_model()

admin.site.site_header = _("Identity provider administration")
admin.site.site_title = _("Identity provider")

if admin.site.is_registered(Application):
    admin.site.unregister(Application)


class ClientProfileSettingsInline(admin.StackedInline):
    """What the client needs from the profile (profiling.ClientProfileSettings)."""

    model = ClientProfileSettings
    fields = ("transactional", "required_fields")
    filter_horizontal = ("required_fields",)
    can_delete = False
    verbose_name_plural = gettext_lazy("profile settings")


@admin.register(Application)
class ApplicationAdmin(DOTApplicationAdmin):
    list_display = (
        "name",
        "client_id",
        "client_type",
        "authorization_grant_type",
        "skip_authorization",
        "algorithm",
        "subject_type",
    )
    list_filter = (*DOTApplicationAdmin.list_filter, "subject_type")
    search_fields = ("name", "client_id")
    # OIDC Core 8: the sub each client sees; the form's validation is Application.clean.
    radio_fields = {**DOTApplicationAdmin.radio_fields, "subject_type": admin.VERTICAL}
    inlines = (ClientProfileSettingsInline,)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        # Once the client exists: the add form stays the one scripts and tests post.
        return self.inlines if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        raw_secret = form.cleaned_data.get("client_secret", "")
        new_secret = raw_secret and not raw_secret.startswith("ciam_hmac_sha256$")
        super().save_model(request, obj, form, change)
        if new_secret and obj.client_type == Application.CLIENT_CONFIDENTIAL:
            messages.warning(
                request,
                _(
                    "Client secret for %(client)s: %(secret)s. Copy it now: it is stored hashed "
                    "and will not be shown again."
                )
                % {"client": obj.client_id, "secret": raw_secret},
            )


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "algorithm", "created", "active_from", "retired_at")
    readonly_fields = ("kid", "algorithm", "created", "active_from", "retired_at")
    exclude = ("private_pem",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuthorizationContext)
class AuthorizationContextAdmin(admin.ModelAdmin):
    list_display = ("application", "user", "created", "redeemed_at", "acr")
    list_select_related = ("application", "user")
    readonly_fields = [field.name for field in AuthorizationContext._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(BackchannelLogoutDelivery)
class BackchannelLogoutDeliveryAdmin(admin.ModelAdmin):
    """Logout tokens owed to clients (OIDC Back-Channel Logout 1.0): read only."""

    list_display = (
        "application",
        "sid",
        "attempts",
        "last_status",
        "delivered_at",
        "next_attempt_at",
        "created",
    )
    list_filter = ("delivered_at",)
    list_select_related = ("application",)
    search_fields = ("application__client_id", "application__name", "sid")
    readonly_fields = [field.name for field in BackchannelLogoutDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
