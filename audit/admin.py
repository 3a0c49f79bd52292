"""The audit log in the admin: read-only for everyone, superusers included."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.contrib.filters.admin import RangeDateTimeFilter  # type: ignore[import-untyped]

from ciam.admin_readonly import ReadOnlyAdminMixin, json_display

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "created_at",
        "actor_kind",
        "actor_label",
        "action",
        "subject_label",
        "target_repr",
        "ip",
    )
    list_filter = (
        "actor_kind",
        "action",
        ("created_at", RangeDateTimeFilter),
        "erased",
    )
    list_filter_submit = True
    search_fields = (
        "actor_label",
        "subject_label",
        "action",
        "target_repr",
        "target_id",
        "ip",
        "request_id",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    list_select_related = ("target_content_type",)
    show_full_result_count = False
    fields = (
        "created_at",
        "actor_kind",
        "actor",
        "actor_label",
        "action",
        "subject",
        "subject_label",
        "target_content_type",
        "target_id",
        "target_repr",
        "changes_display",
        "ip",
        "user_agent",
        "request_id",
        "erased",
    )
    readonly_fields = fields

    @admin.display(description=_("changes"))
    def changes_display(self, entry: AuditEntry) -> str:
        return json_display(entry.changes)
