"""Operators' pages: the profile schema, ask rules, clients' needs, the values customers gave
(read-only), the questions asked (read-only) and the profiling report."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.widgets import UnfoldAdminTextareaWidget  # type: ignore[import-untyped]

from . import report
from .forms import ProfileFieldForm
from .models import (
    AskRule,
    ClientProfileSettings,
    LearnerDecision,
    Profile,
    ProfileField,
    ProfileQuestion,
    ProfileValue,
    value_is_empty,
)
from .schema import schema_forget
from .services.values import profile_field_delete, profile_value_remove
from .templatetags.profile_tags import profile_value

REPORT_URL_NAME = "profiling_profilefield_report"


def _language() -> str:
    return translation.get_language() or "en"


def _schema_changed() -> None:
    # This process reads the new schema at once, and again after the commit (a request
    # served meanwhile may have cached the old one).
    schema_forget()
    transaction.on_commit(schema_forget)


class ProfileFieldAdminForm(ProfileFieldForm):
    """The schema form with the admin theme's text areas (they fit the column)."""

    class Meta(ProfileFieldForm.Meta):
        widgets = {
            "choices": UnfoldAdminTextareaWidget(attrs={"rows": 6}),
            "help_en": UnfoldAdminTextareaWidget(attrs={"rows": 2}),
            "help_pt_br": UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        }


@admin.register(ProfileField)
class ProfileFieldAdmin(ModelAdmin):
    form = ProfileFieldAdminForm
    list_display = (
        "key",
        "type",
        "label",
        "claim",
        "scope",
        "sensitivity",
        "purpose",
        "active",
        "order",
    )
    list_display_links = ("key", "label")
    list_filter = ("type", "sensitivity", "active")
    list_select_related = ("purpose",)
    search_fields = ("key", "label_en", "label_pt_br", "claim")
    ordering = ("order", "key")
    fieldsets = (
        (_("Identity"), {"fields": ("key", "type", "active", "editable", "order")}),
        (
            _("Words shown to customers"),
            {
                "fields": (
                    ("label_en", "label_pt_br"),
                    ("help_en", "help_pt_br"),
                    ("benefit_en", "benefit_pt_br"),
                ),
                "description": _(
                    "The question's label, its help text and the benefit line that tells "
                    "customers why answering helps them. Portuguese falls back to English."
                ),
            },
        ),
        (
            _("Validation"),
            {
                "fields": (
                    "choices",
                    "pattern",
                    ("min_length", "max_length"),
                    ("min_value", "max_value"),
                    ("min_date", "max_date"),
                    "document_kind",
                    "phone_region",
                    "check_junk",
                ),
                "description": _("Which of these apply depends on the type."),
            },
        ),
        (_("Claim and consent"), {"fields": ("claim", "scope", "sensitivity", "purpose")}),
    )

    @admin.display(description=_("label"), ordering="label_en")
    def label(self, obj: ProfileField) -> str:
        return obj.label_for(_language())

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Values, questions, the API and clients name the field by its key.
        return ("key",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _schema_changed()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        profile_field_delete(field=obj)
        _schema_changed()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for field in list(queryset):
            profile_field_delete(field=field)
        _schema_changed()

    def get_urls(self) -> list[URLPattern]:
        return [
            path("report/", self.admin_site.admin_view(self.report_view), name=REPORT_URL_NAME),
            *super().get_urls(),
        ]

    def report_view(self, request: HttpRequest) -> TemplateResponse:
        """The profiling report: questions by outcome over a period (``?days=7|30|90|all``),
        the learner's preference per context, and profile completeness."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        language = _language()
        period = report.report_period(request.GET.get("days"))
        points = report.completeness_over_time()
        learner = report.learner_preferences(language=language)
        replay_total, replay = report.replay_rows(since=report.period_start(period))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Profiling report"),
            "opts": self.model._meta,
            "period": period,
            "periods": [(p, p == period) for p in report.PERIODS],
            "outcomes": report.question_outcomes(
                since=report.period_start(period), language=language
            ),
            "learner": learner,
            "replay_total": replay_total,
            "replay": replay,
            "chart": report.completeness_chart(points),
            "today": points[-1] if points else None,
            "by_field": report.completeness_by_field(language=language),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/profiling/report.html", context)


@admin.register(AskRule)
class AskRuleAdmin(ModelAdmin):
    list_display = ("name", "active", "position", "priority", "min_sign_ins", "field_keys")
    list_filter = ("active", "position", "transactional_only")
    search_fields = ("name", "fields__key")
    filter_horizontal = ("fields", "clients")
    fieldsets = (
        (_("Which fields"), {"fields": ("name", "active", "priority", "fields")}),
        (
            _("When"),
            {
                "fields": (
                    "min_sign_ins",
                    "min_days_since_signup",
                    "when_requested",
                    "transactional_only",
                )
            },
        ),
        (_("Where"), {"fields": ("position", "clients")}),
        (
            _("How often"),
            {"fields": ("fields_per_question", "max_questions", "snooze_days", "max_skips")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[AskRule]:
        queryset: QuerySet[AskRule] = super().get_queryset(request)
        return queryset.prefetch_related("fields")

    @admin.display(description=_("fields"))
    def field_keys(self, obj: AskRule) -> str:
        return ", ".join(field.key for field in obj.fields.all())


@admin.register(ClientProfileSettings)
class ClientProfileSettingsAdmin(ModelAdmin):
    list_display = ("application", "transactional", "required_keys")
    list_filter = ("transactional",)
    list_select_related = ("application",)
    search_fields = ("application__name", "application__client_id")
    raw_id_fields = ("application",)
    filter_horizontal = ("required_fields",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClientProfileSettings]:
        queryset: QuerySet[ClientProfileSettings] = super().get_queryset(request)
        return queryset.prefetch_related("required_fields")

    @admin.display(description=_("required fields"))
    def required_keys(self, obj: ClientProfileSettings) -> str:
        return ", ".join(field.key for field in obj.required_fields.all()) or "-"


@admin.register(ProfileValue)
class ProfileValueAdmin(ModelAdmin):
    """Values as customers, clients and imports gave them: read-only (operators change a
    profile through the services, which validate it); a value may be deleted."""

    list_display = (
        "user",
        "field",
        "shown_value",
        "source",
        "source_detail",
        "client",
        "collected_at",
        "verified",
    )
    list_filter = ("field", "source", "verified")
    list_select_related = ("user", "field", "client")
    search_fields = ("user__email",)
    date_hierarchy = "collected_at"
    ordering = ("-collected_at",)

    @admin.display(description=_("value"))
    def shown_value(self, obj: ProfileValue) -> str:
        return profile_value(obj.value)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ProfileValue._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ProfileValue) -> None:
        _value_remove(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProfileValue]) -> None:
        for value in queryset.select_related("user", "field"):
            _value_remove(value)


def _value_remove(value: ProfileValue) -> None:
    """Remove a value and its copy in ``Profile.values`` (claims are read from there)."""
    profile_value_remove(user=value.user, field=value.field)


class LogAdmin(ModelAdmin):
    """A log in admin: every field shown, nothing added, changed or deleted by hand."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProfileQuestion)
class ProfileQuestionAdmin(LogAdmin):
    """The learner's log: every question shown and what became of it (read-only)."""

    list_display = (
        "shown_at",
        "user",
        "field",
        "outcome",
        "position",
        "bucket",
        "required",
        "explored",
        "client",
    )
    list_filter = ("field", "outcome", "position", "explored", "required")
    list_select_related = ("user", "field", "client")
    search_fields = ("user__email", "=interaction", "bucket")
    date_hierarchy = "shown_at"


@admin.register(LearnerDecision)
class LearnerDecisionAdmin(LogAdmin):
    """The randomised decisions replay compares policies on (read-only)."""

    list_display = ("decided_at", "user", "position", "bucket", "chosen", "propensity")
    list_filter = ("position", "chosen")
    list_select_related = ("user",)
    search_fields = ("user__email", "=interaction", "bucket")
    date_hierarchy = "decided_at"


@admin.register(Profile)
class ProfileAdmin(ModelAdmin):
    """A customer's profile, read-only: each value with its label and provenance."""

    list_display = ("user", "filled", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    fields = ("user", "values_table", "updated_at")
    readonly_fields = ("user", "values_table", "updated_at")

    class Media:
        css = {"all": ("css/admin-profiling.css",)}

    @admin.display(description=_("fields filled"))
    def filled(self, obj: Profile) -> int:
        return sum(1 for value in (obj.values or {}).values() if not value_is_empty(value))

    @admin.display(description=_("values"))
    def values_table(self, obj: Profile) -> str:
        rows = ProfileValue.objects.filter(user_id=obj.user_id).select_related("field", "client")
        provenance = {row.field.key: row for row in rows}
        fields = {f.key: f for f in ProfileField.objects.filter(key__in=list(obj.values or {}))}
        language = _language()
        lines = []
        for key, value in sorted(
            (obj.values or {}).items(),
            key=lambda item: (fields[item[0]].order if item[0] in fields else 10**6, item[0]),
        ):
            field = fields.get(key)
            row = provenance.get(key)
            lines.append(
                (
                    field.label_for(language) if field else key,
                    key,
                    profile_value(value) or "-",
                    _("verified") if key in (obj.verified or []) else "",
                    row.get_source_display() if row else "-",
                    row.client.client_id if row and row.client else "",
                    date_format(timezone.localtime(row.collected_at), "SHORT_DATETIME_FORMAT")
                    if row
                    else "",
                )
            )
        if not lines:
            return str(_("No values yet."))
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("field"),
            _("value"),
            _("source"),
            _("collected at"),
        )
        body = format_html_join(
            "",
            "<tr><td>{}<br><code>{}</code></td><td>{} <strong>{}</strong></td>"
            "<td>{} <code>{}</code></td><td>{}</td></tr>",
            lines,
        )
        return format_html(
            '<table class="profiling-values"><thead>{}</thead><tbody>{}</tbody></table>',
            head,
            body,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
