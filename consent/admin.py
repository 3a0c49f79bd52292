"""Operators' pages: OAuth grants, purposes and their versions, the read-only ledger."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin, TabularInline  # type: ignore[import-untyped]

from .models import (
    ClientPurpose,
    Consent,
    ConsentRecord,
    Purpose,
    PurposeVersion,
    VersionChange,
)
from .services.grants import consent_revoke
from .services.ledger import ConsentError, purpose_version_next_number, purpose_version_publish


class GrantStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("Active")), ("revoked", _("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.action(
    description=_("Revoke selected grants (and the clients' tokens)"), permissions=["change"]
)
def revoke_grants(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Consent]
) -> None:
    """Each selected active grant is withdrawn through consent_revoke (the client's tokens
    for that customer revoked, the next authorization asks again); the admin log, and with
    it the audit log, records which operator did it."""
    revoked = 0
    for consent in queryset.filter(revoked_at__isnull=True).select_related("user", "application"):
        if consent_revoke(user=consent.user, application=consent.application) is not None:
            revoked += 1
            modeladmin.log_change(request, consent, "Revoked by an operator (consent_revoke).")
    modeladmin.message_user(
        request,
        ngettext("%(count)d grant revoked.", "%(count)d grants revoked.", revoked)
        % {"count": revoked},
        messages.SUCCESS if revoked else messages.WARNING,
    )


@admin.register(Consent)
class ConsentAdmin(ModelAdmin):
    """Clients' grants (scopes and claims a customer let a client have). Read-only: grants
    come from the consent page and end through the Revoke action, which also revokes the
    client's tokens; a revoked grant stays as the record that it was given."""

    list_display = ("user", "application", "scope_list", "granted_at", "revoked_at", "active")
    list_filter = (GrantStateFilter, "application", "granted_at")
    list_select_related = ("user", "application")
    search_fields = ("user__email", "application__name", "application__client_id")
    date_hierarchy = "granted_at"
    ordering = ("-granted_at",)
    actions = (revoke_grants,)
    fields = ("user", "application", "scopes", "claims", "granted_at", "revoked_at")
    readonly_fields = fields

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: Consent) -> str:
        return " ".join(obj.scopes or []) or "-"

    @admin.display(description=_("active"), boolean=True)
    def active(self, obj: Consent) -> bool:
        return obj.revoked_at is None

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Deleting grants in bulk would erase the record that they were given and leave the
        # clients' tokens alive: revoke instead.
        actions: dict[str, Any] = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change permission runs the Revoke action on the list; a grant's own page stays
        # read-only for everyone.
        return obj is None and bool(super().has_change_permission(request, obj))


class ClientPurposeInline(TabularInline):
    model = ClientPurpose
    extra = 1
    raw_id_fields = ("application",)
    verbose_name = _("client that needs or offers it")
    verbose_name_plural = _("clients that need or offer it")


class PurposeVersionInline(TabularInline):
    model = PurposeVersion
    extra = 0
    fields = ("number", "title_en", "change", "published_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    ordering = ("-number",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Purpose)
class PurposeAdmin(ModelAdmin):
    list_display = ("key", "kind", "legal_basis", "required", "active", "current_version")
    list_filter = ("kind", "legal_basis", "required", "active")
    search_fields = ("key",)
    inlines = (ClientPurposeInline, PurposeVersionInline)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The key is part of every ledger record's hash: renaming it would break the chains.
        return ("key",) if obj is not None else ()

    @admin.display(description=_("current version"))
    def current_version(self, obj: Purpose) -> str:
        version = obj.current_version()
        return f"v{version.number} ({version.get_change_display()})" if version else "-"


def _publish(
    modeladmin: ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[PurposeVersion],
    change: str,
) -> None:
    for version in queryset.select_related("purpose").order_by("purpose_id", "number"):
        try:
            purpose_version_publish(version=version, change=change)
        except ConsentError as error:
            modeladmin.message_user(request, str(error), messages.ERROR)
        else:
            modeladmin.message_user(
                request,
                _("%(version)s published (%(change)s).")
                % {"version": version, "change": version.get_change_display()},
                messages.SUCCESS,
            )


@admin.action(description=_("Publish as material change (users are asked again)"))
def publish_material(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[PurposeVersion]
) -> None:
    _publish(modeladmin, request, queryset, VersionChange.MATERIAL)


@admin.action(description=_("Publish as minor change (nobody is asked again)"))
def publish_minor(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[PurposeVersion]
) -> None:
    _publish(modeladmin, request, queryset, VersionChange.MINOR)


@admin.register(PurposeVersion)
class PurposeVersionAdmin(ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("__str__", "purpose", "number", "change", "published_at")
    list_filter = ("purpose", "change", ("published_at", admin.EmptyFieldListFilter))
    list_select_related = ("purpose",)
    search_fields = ("purpose__key", "title_en", "title_pt_br")
    actions = (publish_material, publish_minor)
    fields = (
        "purpose",
        "number",
        "title_en",
        "summary_en",
        "text_en",
        "title_pt_br",
        "summary_pt_br",
        "text_pt_br",
        "policy_url",
        "published_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None and obj.is_published:
            # What users agreed to never changes (its text_sha256 is in the ledger).
            return (*self.fields, "change")
        if obj is not None:
            return ("purpose", "number", "published_at")
        return ("number", "published_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None and obj.is_published:
            return (*self.fields, "change")
        return self.fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Bulk delete would skip the per-version check below (published versions stay).
        actions: dict[str, Any] = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Published: shown read-only (view permission), never saved again.
        if obj is not None and obj.is_published:
            return False
        return bool(super().has_change_permission(request, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published:
            return False
        return bool(super().has_delete_permission(request, obj))

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        if not change:
            obj.number = purpose_version_next_number(purpose=obj.purpose)
        super().save_model(request, obj, form, change)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ModelAdmin):
    """The ledger, read-only: records are appended by the services and never edited."""

    list_display = (
        "at",
        "user",
        "purpose",
        "version_number",
        "action",
        "channel",
        "client_id",
        "erased",
    )
    list_filter = ("purpose", "action", "channel", "erased")
    list_select_related = ("user", "purpose", "version")
    search_fields = ("user__email", "=subject", "=receipt_id", "=client_id")
    date_hierarchy = "at"
    ordering = ("-at", "-sequence")

    @admin.display(description=_("version"), ordering="version__number")
    def version_number(self, obj: ConsentRecord) -> str:
        return f"v{obj.version.number}"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ConsentRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
