"""Operators' pages of the provider: clients (relying parties), signing keys, contexts.

The client page is laid out by concern (identity and type, redirect URIs, logout, scopes,
consent and sign-in, branding, delegated administrators) and offers only what the provider
supports: the authorization code and client credentials grants, secrets always stored hashed.
A client is added by kind (web, single-page, native, machine: ``ClientKind``), which sets its
type and grant; the plain DOT fields posted without a kind keep working.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from oauth2_provider.forms import ApplicationForm as DOTApplicationForm
from oauth2_provider.models import AbstractApplication, get_application_model
from oauth2_provider.settings import oauth2_settings
from unfold.admin import ModelAdmin, StackedInline, TabularInline  # type: ignore[import-untyped]
from unfold.decorators import action  # type: ignore[import-untyped]

from consent.models import ClientPurpose
from console.admin_thirdparty import SecretLookupGuardMixin
from console.delegation import (
    DelegatedClientAdminMixin,
    delegated_operators,
    delegation_grant,
    delegation_revoke,
)
from profiling.models import ClientProfileSettings

from .client_secrets import ALGORITHM as HASHED_SECRET_ALGORITHM
from .client_secrets import client_secret_grace_ends, client_secret_rotate
from .models import (
    GRANT_TYPE_CHOICES,
    AccessTokenFormat,
    AuthorizationContext,
    BackchannelLogoutDelivery,
    ClientKind,
    SigningKey,
    client_kind_defaults,
)

Application = get_application_model()

if admin.site.is_registered(Application):
    admin.site.unregister(Application)


def _staff_operators() -> QuerySet[Any]:
    """Who may be made a delegated administrator: active staff users, not superusers."""
    return (
        get_user_model()
        ._default_manager.filter(is_staff=True, is_superuser=False, is_active=True)
        .order_by("email")
    )


class ApplicationForm(DOTApplicationForm):
    """The client form: the kind sets type and grant; only supported grants; allowed scopes
    chosen from the provider's; secrets always hashed (no "hash client secret" box)."""

    allowed_scopes = forms.MultipleChoiceField(
        label=gettext_lazy("allowed scopes"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "Scopes this client may ask for. None chosen: every scope of the provider."
        ),
    )

    class Meta:
        model = Application
        exclude = ("hash_client_secret",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = self.fields
        if "allowed_scopes" in fields:
            scopes_field = fields["allowed_scopes"]
            assert isinstance(scopes_field, forms.MultipleChoiceField)
            scopes_field.choices = [
                (scope, f"{scope}: {description}")
                for scope, description in oauth2_settings.SCOPES.items()
            ]
            if self.instance.pk and "allowed_scopes" not in self.initial:
                self.initial["allowed_scopes"] = self.instance.allowed_scopes.split()
            elif isinstance(self.initial.get("allowed_scopes"), str):
                self.initial["allowed_scopes"] = self.initial["allowed_scopes"].split()
        if "authorization_grant_type" in fields:
            grant_field = fields["authorization_grant_type"]
            assert isinstance(grant_field, forms.ChoiceField)
            grant_field.choices = GRANT_TYPE_CHOICES
            grant_field.required = False
        if "client_type" in fields:
            fields["client_type"].required = False
        if "access_token_format" in fields:
            fields["access_token_format"].required = False  # left out: opaque
        if "skip_authorization" in fields:
            fields["skip_authorization"].label = gettext_lazy("First-party: no consent screen")
            fields["skip_authorization"].help_text = gettext_lazy(
                "A client of this provider's own organisation: its users are not asked to "
                "allow its access."
            )
        if "brand_color" in fields:
            fields["brand_color"].widget.attrs.update(
                {"placeholder": "#1f5fbf", "pattern": "#[0-9a-fA-F]{6}", "maxlength": "7"}
            )
        if "client_secret" in fields and self.instance.pk:
            fields["client_secret"].help_text = gettext_lazy(
                "Stored hashed, never shown again. Use “Rotate secret” to give the client a "
                "new one while the old one keeps working for a grace period."
            )

    def clean_allowed_scopes(self) -> str:
        return " ".join(self.cleaned_data.get("allowed_scopes") or [])

    def clean_access_token_format(self) -> str:
        return self.cleaned_data.get("access_token_format") or AccessTokenFormat.OPAQUE

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        kind = cleaned.get("kind")
        if kind:
            # The kind decides the type and the grant (ClientKind).
            client_type, grant = client_kind_defaults(kind)
            cleaned["client_type"] = client_type
            cleaned["authorization_grant_type"] = grant
            if kind == ClientKind.MACHINE:
                cleaned["client_credentials_enabled"] = False
                cleaned["algorithm"] = AbstractApplication.NO_ALGORITHM  # no ID tokens
        else:
            for name in ("client_type", "authorization_grant_type"):
                if name in self.fields and not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, forms.Field.default_error_messages["required"])
        # A read-only client type (a delegated operator's form) is the stored one.
        if (
            cleaned.get("client_type", self.instance.client_type)
            == AbstractApplication.CLIENT_PUBLIC
        ):
            cleaned["client_secret"] = ""  # a public client has no secret
        return cleaned

    def _post_clean(self) -> None:
        # Secrets are always stored hashed; a public client stores none (a hash of "" would
        # authenticate an empty secret).
        client_type = self.cleaned_data.get("client_type", self.instance.client_type)
        confidential = client_type == AbstractApplication.CLIENT_CONFIDENTIAL
        self.instance.hash_client_secret = confidential
        super()._post_clean()


class ApplicationSuperuserForm(ApplicationForm):
    """The client form of a superuser: also who administers the client (console.delegation)."""

    delegated_administrators = forms.ModelMultipleChoiceField(
        label=gettext_lazy("delegated administrators"),
        queryset=get_user_model()._default_manager.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "Staff users who administer this client only: they see it, change its "
            "configuration and see its customers."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["delegated_administrators"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = _staff_operators()
        if self.instance.pk and "delegated_administrators" not in self.initial:
            self.initial["delegated_administrators"] = [
                user.pk for user in delegated_operators(self.instance)
            ]


class ClientProfileSettingsInline(StackedInline):
    """What the client needs from the profile (profiling.ClientProfileSettings)."""

    model = ClientProfileSettings
    fields = ("transactional", "required_fields")
    filter_horizontal = ("required_fields",)
    can_delete = False
    verbose_name_plural = gettext_lazy("required profile fields")


class ClientPurposeInline(TabularInline):
    """The purposes the client needs or offers (consent.ClientPurpose)."""

    model = ClientPurpose
    fields = ("purpose", "required")
    extra = 0
    verbose_name = gettext_lazy("purpose")
    verbose_name_plural = gettext_lazy("purposes")


_IDENTITY_FIELDS = (
    "kind",
    "name",
    "client_id",
    "client_type",
    "authorization_grant_type",
    "client_credentials_enabled",
    "client_secret",
    "user",
    "algorithm",
    "subject_type",
    "sector_identifier",
    "registration_source",
    "cimd_expires_at",
)


@admin.register(Application)
class ApplicationAdmin(SecretLookupGuardMixin, DelegatedClientAdminMixin, ModelAdmin):
    form = ApplicationForm
    secret_lookup_fields = ("client_secret", "previous_client_secret")
    list_display = (
        "name",
        "client_id",
        "kind",
        "client_type",
        "authorization_grant_type",
        "client_credentials_enabled",
        "skip_authorization",
        "subject_type",
    )
    list_filter = (
        "kind",
        "client_type",
        "authorization_grant_type",
        "skip_authorization",
        "registration_source",
        "subject_type",
    )
    search_fields = ("name", "client_id")
    raw_id_fields = ("user",)
    # registration_source and cimd_expires_at say how the client was registered (DOT).
    readonly_fields = ("registration_source", "cimd_expires_at")
    # OIDC Core 8: the sub each client sees; the form's validation is Application.clean.
    radio_fields = {
        "kind": admin.VERTICAL,
        "client_type": admin.HORIZONTAL,
        "authorization_grant_type": admin.VERTICAL,
        "subject_type": admin.VERTICAL,
        "access_token_format": admin.VERTICAL,
    }
    inlines = (ClientProfileSettingsInline, ClientPurposeInline)
    actions = ("rotate_secrets",)
    actions_detail = ("rotate_secret",)
    actions_list = (
        {
            "title": gettext_lazy("Add by kind"),
            "items": [
                "add_web",
                "add_spa",
                "add_native",
                "add_machine",
            ],
        },
    )
    # Also read-only for a delegated operator: what widens whose data the client reaches.
    delegated_readonly_fields = (
        *DelegatedClientAdminMixin.delegated_readonly_fields,
        "kind",
        "client_credentials_enabled",
        "allowed_scopes",
    )

    fieldsets = (
        (gettext_lazy("Identity and type"), {"fields": _IDENTITY_FIELDS}),
        (gettext_lazy("Redirect URIs"), {"fields": ("redirect_uris", "allowed_origins")}),
        (gettext_lazy("Post-logout redirect URIs"), {"fields": ("post_logout_redirect_uris",)}),
        (
            gettext_lazy("Back-channel and front-channel logout"),
            {
                "fields": (
                    "backchannel_logout_uri",
                    "backchannel_logout_session_required",
                    "frontchannel_logout_uri",
                    "frontchannel_logout_session_required",
                    "session_bound_refresh_tokens",
                )
            },
        ),
        (gettext_lazy("Allowed scopes"), {"fields": ("allowed_scopes",)}),
        (gettext_lazy("Access tokens"), {"fields": ("access_token_format",)}),
        (
            gettext_lazy("Consent and sign-in"),
            {"fields": ("skip_authorization", "consent_max_age_days", "min_acr")},
        ),
        (gettext_lazy("Branding"), {"fields": ("logo_url", "brand_color")}),
    )
    delegation_fieldset = (
        gettext_lazy("Delegated administrators"),
        {"fields": ("delegated_administrators",)},
    )

    # --- the form -------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(self.fieldsets)
        if request.user.is_superuser:
            fieldsets.append(self.delegation_fieldset)
        return fieldsets

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        # A delegated operator never gets the delegation field, not even hidden.
        kwargs["form"] = ApplicationSuperuserForm if request.user.is_superuser else ApplicationForm
        return super().get_form(request, obj, change, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """``?kind=web`` (spa, native, machine) preselects a kind and its defaults."""
        initial: dict[str, Any] = super().get_changeform_initial_data(request)
        kind = request.GET.get("kind", "")
        if kind in ClientKind.values:
            client_type, grant = client_kind_defaults(kind)
            initial.update(kind=kind, client_type=client_type, authorization_grant_type=grant)
            if kind == ClientKind.MACHINE:
                initial["algorithm"] = AbstractApplication.NO_ALGORITHM
        return initial

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        # Once the client exists: the add form stays the one scripts and tests post.
        if obj is None:
            return ()
        return super().get_inlines(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        raw_secret = form.cleaned_data.get("client_secret", "")
        new_secret = raw_secret and not raw_secret.startswith(HASHED_SECRET_ALGORITHM + "$")
        super().save_model(request, obj, form, change)
        if new_secret and obj.client_type == AbstractApplication.CLIENT_CONFIDENTIAL:
            self._show_secret_once(request, obj, raw_secret)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if request.user.is_superuser and "delegated_administrators" in form.cleaned_data:
            self._save_delegations(request, form.instance, form.cleaned_data)

    def _save_delegations(self, request: HttpRequest, client: Any, cleaned: dict[str, Any]) -> None:
        chosen = {user.pk: user for user in cleaned["delegated_administrators"]}
        current = {user.pk: user for user in delegated_operators(client)}
        for pk in chosen.keys() - current.keys():
            delegation_grant(operator=chosen[pk], client=client, granted_by=request.user)
        for pk in current.keys() - chosen.keys():
            delegation_revoke(operator=current[pk], client=client, revoked_by=request.user)

    def _show_secret_once(self, request: HttpRequest, client: Any, secret: str) -> None:
        messages.warning(
            request,
            _(
                "Client secret for %(client)s: %(secret)s. Copy it now: it is stored hashed "
                "and will not be shown again."
            )
            % {"client": client.client_id, "secret": secret},
        )

    # --- add by kind (the changelist's buttons) --------------------------------------------

    def _add_by_kind(self, kind: str) -> HttpResponse:
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        return HttpResponseRedirect(f"{url}?kind={kind}")

    @action(description=gettext_lazy("Web application"), url_path="add-web", permissions=["add"])
    def add_web(self, request: HttpRequest) -> HttpResponse:
        return self._add_by_kind(ClientKind.WEB)

    @action(
        description=gettext_lazy("Single-page application"), url_path="add-spa", permissions=["add"]
    )
    def add_spa(self, request: HttpRequest) -> HttpResponse:
        return self._add_by_kind(ClientKind.SPA)

    @action(
        description=gettext_lazy("Native application"), url_path="add-native", permissions=["add"]
    )
    def add_native(self, request: HttpRequest) -> HttpResponse:
        return self._add_by_kind(ClientKind.NATIVE)

    @action(
        description=gettext_lazy("Machine to machine"), url_path="add-machine", permissions=["add"]
    )
    def add_machine(self, request: HttpRequest) -> HttpResponse:
        return self._add_by_kind(ClientKind.MACHINE)

    # --- secret rotation ------------------------------------------------------------------

    def has_rotate_secret_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        """Who may change the client may rotate its secret (a confidential client's)."""
        if object_id is None:
            return bool(self.has_change_permission(request))
        client = self.get_queryset(request).filter(pk=object_id).first()
        return (
            client is not None
            and client.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
            and bool(self.has_change_permission(request, client))
        )

    def _rotate(self, request: HttpRequest, client: Any) -> None:
        secret = client_secret_rotate(application=client)
        _audit_secret_rotated(request, client)
        ends = client_secret_grace_ends(client)
        messages.warning(
            request,
            _(
                "New client secret for %(client)s: %(secret)s. Copy it now: it is stored "
                "hashed and will not be shown again. The previous secret works until "
                "%(until)s."
            )
            % {
                "client": client.client_id,
                "secret": secret,
                "until": f"{ends:%Y-%m-%d %H:%M} UTC" if ends else "-",
            },
        )

    @action(
        description=gettext_lazy("Rotate secret"),
        url_path="rotate-secret",
        permissions=["rotate_secret"],
        icon="key",
    )
    def rotate_secret(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: what rotating does, with a button; POST: rotate, show the new secret once."""
        client = get_object_or_404(self.get_queryset(request), pk=object_id)
        if client.client_type != AbstractApplication.CLIENT_CONFIDENTIAL:
            raise PermissionDenied
        opts = self.model._meta
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[client.pk])
        if request.method == "POST":
            self._rotate(request, client)
            return HttpResponseRedirect(change_url)
        from .client_secrets import rotation_settings

        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "original": client,
            "client": client,
            "title": _("Rotate the secret of %(client)s") % {"client": client},
            "grace_hours": _whole(rotation_settings.GRACE_HOURS),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/ciam/application/rotate_secret.html", context)

    @admin.action(description=gettext_lazy("Rotate secret of the selected confidential clients"))
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for client in queryset:
            if client.client_type != AbstractApplication.CLIENT_CONFIDENTIAL:
                messages.error(
                    request,
                    _("%(client)s is a public client: it has no secret.") % {"client": client},
                )
            elif self.has_change_permission(request, client):
                self._rotate(request, client)


def _whole(hours: float) -> float | int:
    return int(hours) if float(hours).is_integer() else hours


def _audit_secret_rotated(request: HttpRequest, client: Any) -> None:
    try:
        from audit.services import audit_record
    except ImportError:  # the audit log is optional for the provider
        return
    audit_record(
        action="client.secret_rotated",
        actor=request.user,
        actor_kind="operator",
        target=client,
        request=request,
    )


@admin.register(SigningKey)
class SigningKeyAdmin(ModelAdmin):
    list_display = ("kid", "algorithm", "created", "active_from", "retired_at")
    readonly_fields = ("kid", "algorithm", "created", "active_from", "retired_at")
    exclude = ("private_pem",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuthorizationContext)
class AuthorizationContextAdmin(ModelAdmin):
    list_display = ("application", "user", "created", "redeemed_at", "acr")
    list_select_related = ("application", "user")
    readonly_fields = [field.name for field in AuthorizationContext._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(BackchannelLogoutDelivery)
class BackchannelLogoutDeliveryAdmin(ModelAdmin):
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
