# mypy: allow-any-generics
"""The libraries' models in the themed admin.

allauth, django-oauth-toolkit, django-otp and django.contrib.auth register plain Django
admins; each is replaced here by a django-unfold class that keeps the library's own list,
search and actions (the library's class first in the bases, unfold's ModelAdmin after it).
Secrets are never shown in full: DOT masks its tokens and codes itself; TOTP keys, static
recovery codes, social tokens and social app secrets are left out or masked here.
"""

from __future__ import annotations

from typing import Any

from allauth.account.admin import EmailAddressAdmin as AllauthEmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.socialaccount.admin import SocialAccountAdmin as AllauthSocialAccountAdmin
from allauth.socialaccount.admin import SocialAppAdmin as AllauthSocialAppAdmin
from allauth.socialaccount.admin import SocialAppForm as AllauthSocialAppForm
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.db.models import Model
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider import admin as dot_admin
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.widgets import (  # type: ignore[import-untyped]
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

# Shown instead of a secret: enough to tell two apart, never enough to use one.
MASK_SUFFIX_LENGTH = 4


def mask_secret(value: str | None) -> str:
    """``…`` and the last four characters of a long secret; ``…`` alone for a short one."""
    if not value:
        return "-"
    if len(value) < 16:
        return "…"
    return "…" + value[-MASK_SUFFIX_LENGTH:]


class SecretLookupGuardMixin:
    """Refuses changelist filters on secret fields (``?key__startswith=a``): Django's admin
    allows any lookup on a model's own fields, so that a query string would otherwise test a
    secret one character at a time. A refused lookup is Django's answer to a disallowed
    filter (400), never a filtered list. Mix in first; list the fields, or the relations to
    secrets, in ``secret_lookup_fields``."""

    secret_lookup_fields: tuple[str, ...] = ()

    def lookup_allowed(self, lookup: str, value: Any, request: Any = None) -> bool:
        first = lookup.split(LOOKUP_SEP, 1)[0]
        if first in self.secret_lookup_fields:
            return False
        return bool(super().lookup_allowed(lookup, value, request))  # type: ignore[misc]


def _replace(model: type[Model], admin_class: type[admin.ModelAdmin]) -> None:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, admin_class)


# --- django-oauth-toolkit: tokens and codes (Application is ciam.admin's) ----------------


class AccessTokenAdmin(SecretLookupGuardMixin, dot_admin.AccessTokenAdmin, ModelAdmin):
    secret_lookup_fields = (
        "token",
        "token_checksum",
        "id_token",
        "refresh_token",
        "source_refresh_token",
    )
    list_display = ("pk", "masked_token", "user", "application", "expires", "scope")
    list_filter = ("application", "expires")
    date_hierarchy = "expires"


class RefreshTokenAdmin(SecretLookupGuardMixin, dot_admin.RefreshTokenAdmin, ModelAdmin):
    secret_lookup_fields = ("token", "token_checksum", "access_token", "refreshed_access_token")
    list_display = ("pk", "masked_token", "user", "application", "created", "revoked")
    list_filter = ("application", ("revoked", admin.EmptyFieldListFilter))
    date_hierarchy = "created"


class GrantAdmin(SecretLookupGuardMixin, dot_admin.GrantAdmin, ModelAdmin):
    secret_lookup_fields = ("code", "code_challenge", "nonce")
    list_select_related = ("application", "user")
    list_filter = ("application", "expires")


class IDTokenAdmin(SecretLookupGuardMixin, dot_admin.IDTokenAdmin, ModelAdmin):
    secret_lookup_fields = ("jti", "access_token")
    date_hierarchy = "expires"


_replace(get_access_token_model(), AccessTokenAdmin)
_replace(get_refresh_token_model(), RefreshTokenAdmin)
_replace(get_grant_model(), GrantAdmin)
_replace(get_id_token_model(), IDTokenAdmin)


# --- allauth: email addresses, social accounts, social apps, social tokens ---------------


class EmailAddressAdmin(AllauthEmailAddressAdmin, ModelAdmin):
    list_select_related = ("user",)


class SocialAccountAdmin(SecretLookupGuardMixin, AllauthSocialAccountAdmin, ModelAdmin):
    secret_lookup_fields = ("socialtoken", "extra_data")
    list_display = ("user", "uid", "provider", "date_joined", "last_login")
    list_select_related = ("user",)
    readonly_fields = ("extra_data",)
    date_hierarchy = "date_joined"


class SocialAppForm(AllauthSocialAppForm):
    """allauth's form with the secret write-only: left empty, the stored one is kept."""

    secret = forms.CharField(
        label=capfirst(_("secret key")),
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(render_value=False),
        help_text=_("Stored, never shown again. Leave empty to keep the current one."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("client_id", "key"):
            if name in self.fields:
                self.fields[name].widget = UnfoldAdminTextInputWidget()
        provider = self.fields["provider"]
        provider.widget = UnfoldAdminSelectWidget(choices=provider.choices)

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data.get("secret") or ""
        if not secret and self.instance.pk:
            return str(self.instance.secret)
        return secret


class SocialAppAdmin(SecretLookupGuardMixin, AllauthSocialAppAdmin, ModelAdmin):
    secret_lookup_fields = ("secret", "settings", "socialtoken")
    form = SocialAppForm
    list_display = ("name", "provider", "provider_id", "client_id", "masked_secret")
    list_filter = ("provider",)
    search_fields = ("name", "provider", "provider_id", "client_id")

    @admin.display(description=_("secret key"))
    def masked_secret(self, obj: SocialApp) -> str:
        return mask_secret(obj.secret)


class SocialTokenAdmin(SecretLookupGuardMixin, ModelAdmin):
    """Tokens the identity providers gave at sign-in: read-only, never shown in full."""

    list_display = ("app", "account", "masked_token", "expires_at")
    list_filter = ("app", "app__provider", "expires_at")
    list_select_related = ("app", "account", "account__user")
    search_fields = ("account__user__email", "account__uid")
    fields = ("app", "account", "masked_token", "expires_at")
    readonly_fields = fields

    secret_lookup_fields = ("token", "token_secret")

    @admin.display(description=_("token"))
    def masked_token(self, obj: SocialToken) -> str:
        return mask_secret(obj.token)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_replace(EmailAddress, EmailAddressAdmin)
_replace(SocialAccount, SocialAccountAdmin)
_replace(SocialApp, SocialAppAdmin)
_replace(SocialToken, SocialTokenAdmin)


# --- django-otp: authenticator apps and recovery codes -----------------------------------


class DeviceAdmin(SecretLookupGuardMixin, ModelAdmin):
    """A customer's second-factor device as support sees it: who, when, whether confirmed
    and throttled. Enrolled by the customer, never by hand; the key (TOTP) and the codes
    (static) are secrets and are not shown. Deleting a device is how support removes a lost
    one."""

    list_display: tuple[str, ...] = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "name")
    date_hierarchy = "created_at"
    fields: tuple[str, ...] = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields: tuple[str, ...] = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TOTPDeviceAdmin(DeviceAdmin):
    secret_lookup_fields = ("key",)
    fields: tuple[str, ...] = (
        *DeviceAdmin.fields,
        "digits",
        "step",
        "throttling_failure_count",
        "throttling_failure_timestamp",
    )
    readonly_fields = fields


class StaticDeviceAdmin(DeviceAdmin):
    secret_lookup_fields = ("token_set",)
    list_display = (*DeviceAdmin.list_display, "codes_left")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("token_set")

    @admin.display(description=_("recovery codes left"))
    def codes_left(self, obj: StaticDevice) -> int:
        return len(obj.token_set.all())


_replace(TOTPDevice, TOTPDeviceAdmin)
_replace(StaticDevice, StaticDeviceAdmin)


# --- django.contrib.auth and django.contrib.sites ----------------------------------------


class GroupAdmin(DjangoGroupAdmin, ModelAdmin):
    pass


_replace(Group, GroupAdmin)

if apps.is_installed("django.contrib.sites"):
    from django.contrib.sites.admin import SiteAdmin as DjangoSiteAdmin
    from django.contrib.sites.models import Site

    class SiteAdmin(DjangoSiteAdmin, ModelAdmin):
        pass

    _replace(Site, SiteAdmin)


# The libraries' app names as the admin's "all applications" list shows them.
for _label, _name in (
    ("otp_totp", _("Authenticator apps")),
    ("otp_static", _("Recovery codes")),
    ("oauth2_provider", _("OAuth tokens")),
):
    if _label in apps.app_configs:
        apps.get_app_config(_label).verbose_name = _name
