"""The outbox in the admin: read-only for everyone (events are facts that happened)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin  # type: ignore[import-untyped]
from unfold.contrib.filters.admin import RangeDateTimeFilter  # type: ignore[import-untyped]

from ciam.admin_readonly import ReadOnlyAdminMixin, json_display

from .catalogue import EVENT_TYPES
from .models import OutboxEvent
from .selectors import event_envelope


class EventTypeFilter(admin.SimpleListFilter):
    title = _("type")
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(key, entry.label) for key, entry in EVENT_TYPES.items()]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        return queryset.filter(type=value) if value else queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "time", "type", "subject", "event_id")
    list_filter = (EventTypeFilter, ("time", RangeDateTimeFilter))
    list_filter_submit = True
    search_fields = ("=subject", "=event_id")
    ordering = ("-id",)
    show_full_result_count = False
    fields = (
        "id",
        "event_id",
        "type",
        "version",
        "time",
        "user",
        "subject",
        "created_at",
        "envelope_display",
        "data_display",
    )
    readonly_fields = fields

    @admin.display(description=_("CloudEvents envelope (internal projection)"))
    def envelope_display(self, event: OutboxEvent) -> str:
        return json_display(event_envelope(event), sort_keys=False)

    @admin.display(description=_("stored data"))
    def data_display(self, event: OutboxEvent) -> str:
        return json_display(event.data)
