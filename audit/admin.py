"""The audit log in the admin: read-only for everyone, superusers included."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.contrib.filters.admin import RangeDateTimeFilter  # type: ignore[import-untyped]

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ModelAdmin):
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
        return format_html(
            "<pre style='white-space: pre-wrap'>{}</pre>",
            json.dumps(entry.changes, ensure_ascii=False, indent=2, sort_keys=True),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
