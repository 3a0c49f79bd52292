"""Personalization in the operators' console: segments (the only thing edited here: their
conditions checked by personalization/segments.py, their members recomputed on demand) and,
read-only, what training derived: interests, insights, the catalogue, item neighbours,
segment members and the log of training runs.

The data is customer-wide: these pages are for operators holding the model permissions
(superusers, staff given them), never for a delegated operator, who sees only their own
clients and customers (console/delegation.py).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.decorators import action  # type: ignore[import-untyped]
from unfold.widgets import UnfoldAdminTextareaWidget  # type: ignore[import-untyped]

from ciam.admin_readonly import ReadOnlyAdminMixin, json_display

from .models import (
    CatalogueItem,
    Insight,
    Interest,
    ItemNeighbour,
    Segment,
    SegmentMembership,
    TrainingRun,
)
from .segments import (
    MAX_CONDITIONS,
    SegmentError,
    segment_conditions_json,
    segment_conditions_parse,
)
from .services.segments import segment_delete, segments_recompute

EXAMPLE = (
    '[{"type": "interest", "kind": "category", "name": "Shoes", "min_score": 0.3}, '
    '{"type": "engaged_within_days", "days": 30}]'
)


def _delegated(request: HttpRequest) -> bool:
    from console.delegation import is_delegated_operator

    return is_delegated_operator(request.user)


class CustomerWideAdminMixin:
    """Put before the ModelAdmin class: a delegated operator gets no page here, whatever
    model permissions they also hold; others need the model permissions as usual."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return not _delegated(request) and bool(super().has_module_permission(request))  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _delegated(request) and bool(super().has_view_permission(request, obj))  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not _delegated(request) and bool(super().has_add_permission(request, *args))  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _delegated(request) and bool(super().has_change_permission(request, obj))  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _delegated(request) and bool(super().has_delete_permission(request, obj))  # type: ignore[misc]


def conditions_help() -> SafeString:
    """The help text of the conditions field: every shape, with an example."""
    shapes = (
        (
            '{"type": "interest", "kind": "brand", "name": "Acme", "min_score": 0.5}',
            _(
                "an interest the customer did not remove: kind “brand” or “category”, the "
                "name in any case, min_score from 0 to 1 (optional, default 0)"
            ),
        ),
        (
            '{"type": "engaged_within_days", "days": 30}',
            _("the customer engaged at most this many days ago (1 to 3650)"),
        ),
        (
            '{"type": "consent", "purpose": "newsletter"}',
            _("the customer grants the consent purpose of this key"),
        ),
        (
            '{"type": "profile", "field": "city", "op": "equals", "value": "Recife"}',
            _(
                "the profile field of this key: op “set” (filled, without value), “equals” "
                "(one text, number or yes/no) or “in” (a list of them)"
            ),
        ),
        (
            '{"type": "best_hour", "hours": [18, 19, 20]}',
            _("one of the customer's best contact hours (0 to 23) is in the list"),
        ),
    )
    return format_html(
        "{}<ul class='list-disc my-1 pl-5'>{}</ul>{} <code>{}</code>",
        _(
            "A JSON list of conditions (at most %(most)d). A customer is a member when every "
            "one holds, and only while they grant a personalization purpose."
        )
        % {"most": MAX_CONDITIONS},
        format_html_join("", "<li><code>{}</code>: {}</li>", shapes),
        _("Example:"),
        EXAMPLE,
    )


class SegmentForm(forms.ModelForm):
    """A segment; its conditions are checked (and stored normalised) by the rule language."""

    class Meta:
        model = Segment
        fields = ("key", "name_en", "name_pt_br", "description", "conditions", "active")
        widgets = {
            "conditions": UnfoldAdminTextareaWidget(attrs={"rows": 8}),
            "description": UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "conditions" in self.fields:
            # [] (every consenting customer) is a list like any other: checked below.
            self.fields["conditions"].required = False
            self.fields["conditions"].help_text = conditions_help()

    def clean_conditions(self) -> list[dict[str, Any]]:
        try:
            conditions = segment_conditions_parse(self.cleaned_data.get("conditions"))
        except SegmentError as error:
            raise ValidationError(error.message, code="invalid_conditions") from None
        return segment_conditions_json(conditions)


def _members_url(segment: Segment) -> str:
    return (
        reverse("admin:personalization_segmentmembership_changelist")
        + f"?segment__id__exact={segment.pk}"
    )


@admin.register(Segment)
class SegmentAdmin(CustomerWideAdminMixin, ModelAdmin):
    form = SegmentForm
    list_display = ("key", "name_en", "active", "members_link", "computed_at")
    list_filter = ("active",)
    search_fields = ("key", "name_en", "name_pt_br")
    ordering = ("key",)
    readonly_fields = ("members_link", "computed_at", "created_at")
    fieldsets = (
        (None, {"fields": ("key", ("name_en", "name_pt_br"), "description", "active")}),
        (gettext_lazy("Conditions"), {"fields": ("conditions",)}),
        (gettext_lazy("Members"), {"fields": ("members_link", "computed_at", "created_at")}),
    )
    actions = ("recompute_selected",)
    actions_detail = ("recompute_members",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        # The key is what claims, events and receivers know the segment by.
        return (*readonly, "key") if obj is not None else readonly

    @admin.display(description=gettext_lazy("members"), ordering="members")
    def members_link(self, segment: Segment) -> str:
        if segment.pk is None:
            return "-"
        return format_html('<a href="{}">{}</a>', _members_url(segment), segment.members)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change or {"conditions", "active"} & set(form.changed_data):
            messages.info(
                request,
                _(
                    "Members follow the conditions after “Recompute members” or the next "
                    "training run."
                ),
            )

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Memberships are read-only pages, yet they go with their segment (segment_delete).
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        memberships = str(SegmentMembership._meta.verbose_name)
        perms_needed = {name for name in perms_needed if str(name) != memberships}
        return to_delete, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        segment_delete(segment=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for segment in queryset:
            segment_delete(segment=segment)

    # --- recomputing ---------------------------------------------------------------------

    def has_recompute_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return bool(self.has_change_permission(request))

    def _recompute(self, request: HttpRequest, segments: list[Segment]) -> None:
        for segment in segments:
            try:
                segment_conditions_parse(segment.conditions)
            except SegmentError as error:
                messages.warning(
                    request,
                    _("%(segment)s has no members: %(error)s")
                    % {"segment": segment.key, "error": error.message},
                )
        changes = segments_recompute(segments=segments)
        for segment in Segment.objects.filter(pk__in=[segment.pk for segment in segments]):
            entered, left = changes.get(segment.key, (0, 0))
            messages.success(
                request,
                _(
                    "%(segment)s recomputed: %(entered)d entered, %(left)d left, "
                    "%(members)d members."
                )
                % {
                    "segment": segment.key,
                    "entered": entered,
                    "left": left,
                    "members": segment.members,
                },
            )

    @admin.action(
        description=gettext_lazy("Recompute members of the selected segments"),
        permissions=["recompute"],
    )
    def recompute_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._recompute(request, list(queryset))

    @action(
        description=gettext_lazy("Recompute members"),
        url_path="recompute",
        permissions=["recompute"],
        icon="refresh",
        dialog={
            "title": gettext_lazy("Recompute members"),
            "description": gettext_lazy(
                "Every consenting customer is checked against the conditions now; those "
                "who enter or leave get a segment event."
            ),
            "form_submit_text": gettext_lazy("Recompute"),
        },
    )
    def recompute_members(self, request: HttpRequest, form: Any, object_id: str) -> HttpResponse:
        """GET: the confirmation dialog; POST (confirmed): recompute, back to the segment."""
        segment = get_object_or_404(self.get_queryset(request), pk=object_id)
        self._recompute(request, [segment])
        url = reverse("admin:personalization_segment_change", args=[segment.pk])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)


# --- What training derived: read-only ----------------------------------------------------


class DerivedAdmin(CustomerWideAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Rows written by training and the customers' own changes, never by hand."""

    show_full_result_count = False


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(DerivedAdmin):
    list_display = ("segment", "user", "since")
    list_filter = ("segment",)
    list_select_related = ("segment", "user")
    search_fields = ("user__email",)
    ordering = ("segment__key", "-since")
    fields = ("segment", "user", "since")
    readonly_fields = fields


@admin.register(Interest)
class InterestAdmin(DerivedAdmin):
    list_display = ("user", "kind", "key", "score", "source", "hidden", "updated_at")
    list_filter = ("kind", "source", "hidden")
    list_select_related = ("user",)
    search_fields = ("user__email", "key")
    ordering = ("user_id", "-score")
    fields = ("user", "kind", "key", "score", "source", "hidden", "evidence_display", "updated_at")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("evidence"))
    def evidence_display(self, interest: Interest) -> str:
        return json_display(interest.evidence)


@admin.register(Insight)
class InsightAdmin(DerivedAdmin):
    list_display = ("user", "segments_list", "interactions", "engaged_at", "computed_at")
    list_filter = ("window_from_prior",)
    list_select_related = ("user",)
    search_fields = ("user__email",)
    ordering = ("-computed_at",)
    fields = (
        "user",
        "interests_display",
        "recommendations_display",
        "best_hours_display",
        "best_weekdays_display",
        "time_zone",
        "window_from_prior",
        "segments_display",
        "interactions",
        "engaged_at",
        "computed_at",
    )
    readonly_fields = fields

    @admin.display(description=gettext_lazy("segments"))
    def segments_list(self, insight: Insight) -> str:
        return ", ".join(str(key) for key in insight.segments or []) or "-"

    @admin.display(description=gettext_lazy("interests"))
    def interests_display(self, insight: Insight) -> str:
        return json_display(insight.interests, sort_keys=False)

    @admin.display(description=gettext_lazy("recommendations"))
    def recommendations_display(self, insight: Insight) -> str:
        return json_display(insight.recommendations, sort_keys=False)

    @admin.display(description=gettext_lazy("best hours"))
    def best_hours_display(self, insight: Insight) -> str:
        return json_display(insight.best_hours, sort_keys=False)

    @admin.display(description=gettext_lazy("best weekdays"))
    def best_weekdays_display(self, insight: Insight) -> str:
        return json_display(insight.best_weekdays, sort_keys=False)

    @admin.display(description=gettext_lazy("segments"))
    def segments_display(self, insight: Insight) -> str:
        return json_display(insight.segments, sort_keys=False)


@admin.register(CatalogueItem)
class CatalogueItemAdmin(DerivedAdmin):
    list_display = ("key", "category", "brand", "popularity", "updated_at")
    list_filter = ("category",)
    search_fields = ("key", "category", "brand")
    ordering = ("-popularity", "key")


@admin.register(ItemNeighbour)
class ItemNeighbourAdmin(DerivedAdmin):
    list_display = ("item", "neighbour", "score")
    search_fields = ("item", "neighbour")
    ordering = ("item", "-score")


@admin.register(TrainingRun)
class TrainingRunAdmin(DerivedAdmin):
    list_display = (
        "started_at",
        "kind",
        "model",
        "users",
        "interactions",
        "items",
        "seconds",
        "finished_at",
        "failed",
    )
    list_filter = ("kind", "model")
    ordering = ("-started_at",)
    fields = (
        "kind",
        "model",
        "started_at",
        "finished_at",
        "seconds",
        "users",
        "interactions",
        "items",
        "through_interaction",
        "population_display",
        "error",
    )
    readonly_fields = fields

    @admin.display(description=gettext_lazy("failed"), boolean=True)
    def failed(self, run: TrainingRun) -> bool:
        return bool(run.error)

    @admin.display(description=gettext_lazy("population rhythm"))
    def population_display(self, run: TrainingRun) -> str:
        return json_display(run.population)
