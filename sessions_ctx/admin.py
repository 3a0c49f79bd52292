# mypy: allow-any-generics
"""Operators' pages: browser sessions (read-only, with "sign out"), risk decisions
(read-only), risk policies with their rules (editable), known devices (read-only).

ModelAdmin[Model] would need django_stubs_ext.monkeypatch() at run time: the admin classes
stay unparametrized (as in consent.admin).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin, TabularInline  # type: ignore[import-untyped]

from ciam.admin_readonly import ReadOnlyAdminMixin

from .models import BrowserSession, EndReason, RiskDecision, RiskPolicy, RiskRule, UserDevice
from .services.sessions import session_revoke


class ReadOnlyAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Rows written by the provider itself: operators look, never add or edit."""


class SessionStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("Active")), ("ended", _("Ended"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "active":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.action(description=_("Sign out selected sessions"), permissions=["change"])
def sign_out_sessions(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[BrowserSession]
) -> None:
    """Each selected active session ends: its browser is signed out, its tokens revoked and
    its clients told (back-channel logout)."""
    ended = 0
    for record in queryset.filter(ended_at__isnull=True):
        if session_revoke(record=record, reason=EndReason.REVOKED_BY_OPERATOR):
            ended += 1
            # The admin log (and through it the audit log) names the operator who did it.
            modeladmin.log_change(request, record, "Signed out by an operator.")
    modeladmin.message_user(
        request,
        ngettext("%(count)d session signed out.", "%(count)d sessions signed out.", ended)
        % {"count": ended},
        messages.SUCCESS if ended else messages.WARNING,
    )


@admin.register(BrowserSession)
class BrowserSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "browser_label",
        "place",
        "ip",
        "created_at",
        "last_seen_at",
        "active",
        "end_reason",
    )
    list_filter = (SessionStateFilter, "end_reason", "device_type", "country", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "ip")
    date_hierarchy = "created_at"
    actions = (sign_out_sessions,)
    exclude = ("session_key",)  # a live session key is a bearer credential: never shown

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Signing out (the list's action) needs the change permission; a session's own page
        # stays read-only for everyone.
        return obj is None and ModelAdmin.has_change_permission(self, request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields if field.name != "session_key"]

    @admin.display(description=_("active"), boolean=True)
    def active(self, obj: BrowserSession) -> bool:
        return obj.is_active


@admin.register(RiskDecision)
class RiskDecisionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "trigger", "findings_list", "action", "place", "ip")
    list_filter = ("action", "trigger", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "user",
        "session",
        "client_id",
        "created_at",
        "trigger",
        "findings",
        "action",
        "ip",
        "device_label",
        "place",
        "resolved_at",
        "resolved_with",
    )

    @admin.display(description=_("findings"))
    def findings_list(self, obj: RiskDecision) -> str:
        return ", ".join(obj.finding_codes) or "-"


class RiskRuleInline(TabularInline):
    model = RiskRule
    extra = 1


@admin.register(RiskRule)
class RiskRuleAdmin(ModelAdmin):
    """Every policy's rules in one list (each policy's page edits its own inline)."""

    list_display = ("__str__", "policy", "finding", "min_confidence", "action")
    list_filter = ("finding", "min_confidence", "action", "policy")
    list_select_related = ("policy",)
    search_fields = ("policy__name", "finding")
    ordering = ("policy__name", "finding", "min_confidence")


@admin.register(RiskPolicy)
class RiskPolicyAdmin(ModelAdmin):
    list_display = ("name", "client", "rule_count")
    search_fields = ("name", "application__name", "application__client_id")
    raw_id_fields = ("application",)
    inlines = (RiskRuleInline,)

    @admin.display(description=_("client"))
    def client(self, obj: RiskPolicy) -> str:
        return str(obj.application) if obj.application_id else str(_("Default (every client)"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[RiskPolicy]:
        queryset: QuerySet[RiskPolicy] = super().get_queryset(request)
        return queryset.annotate(rule_total=Count("rules"))

    @admin.display(description=_("rules"), ordering="rule_total")
    def rule_count(self, obj: Any) -> int:
        return int(obj.rule_total)


@admin.register(UserDevice)
class UserDeviceAdmin(ReadOnlyAdmin):
    list_display = ("user", "label", "first_seen_at", "last_seen_at")
    list_filter = ("last_seen_at",)
    list_select_related = ("user",)
    search_fields = ("user__email", "label")
    date_hierarchy = "last_seen_at"
    readonly_fields = ("user", "device_id", "label", "first_seen_at", "last_seen_at")
