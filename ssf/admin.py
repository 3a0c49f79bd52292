"""Operators' pages: Shared Signals streams (read, status changes), their subjects and
their own SETs (verification, stream-updated). Streams are created by receivers through
the API (SSF 1.0 8.1.1.1); an operator pauses, disables or enables them, and the receiver
is told with a stream-updated SET (SSF 1.0 8.1.5)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin, TabularInline  # type: ignore[import-untyped]

from .models import SsfControlEvent, SsfStream, SsfSubject, StreamStatus
from .selectors import stream_status
from .services.streams import stream_delete, stream_status_set


def _status_action(status: str, description: Any) -> Any:
    @admin.action(description=description, permissions=["change"])
    def action(modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet[SsfStream]) -> None:
        changed = 0
        for stream in queryset.select_related("endpoint", "application"):
            # The status the receiver reads: "enabled" with its endpoint off (410) is disabled.
            if stream.status == status and stream_status(stream)["status"] == status:
                continue
            stream_status_set(
                stream=stream,
                status=status,
                reason=str(_("Changed by an operator.")),
                announce=True,
            )
            modeladmin.log_change(request, stream, f"Status set to {status} by an operator.")
            changed += 1
        modeladmin.message_user(
            request,
            ngettext("%(count)d stream changed.", "%(count)d streams changed.", changed)
            % {"count": changed},
            messages.SUCCESS if changed else messages.WARNING,
        )

    action.__name__ = f"stream_{status}"
    return action


class SsfSubjectInline(TabularInline):
    model = SsfSubject
    extra = 0
    fields = ("subject", "user", "added", "verified", "updated_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SsfStream)
class SsfStreamAdmin(ModelAdmin):
    """Streams of receivers. Read-only but for the status actions: the receiver owns its
    configuration (SSF 1.0 8.1.1)."""

    list_display = ("stream_id", "application", "status", "delivered_count", "url", "created_at")
    list_filter = ("status", "default_subjects", "created_at")
    list_select_related = ("application", "endpoint")
    search_fields = ("stream_id", "application__name", "application__client_id")
    ordering = ("-created_at",)
    actions = (
        _status_action(StreamStatus.ENABLED, _("Enable selected streams")),
        _status_action(StreamStatus.PAUSED, _("Pause selected streams")),
        _status_action(StreamStatus.DISABLED, _("Disable selected streams")),
    )
    fields = (
        "stream_id",
        "application",
        "aud",
        "status",
        "reason",
        "url",
        "events_requested",
        "events_delivered",
        "description",
        "default_subjects",
        "verification_requested_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (SsfSubjectInline,)

    @admin.display(description=_("push endpoint URL"))
    def url(self, obj: SsfStream) -> str:
        return str(obj.endpoint.url)

    @admin.display(description=_("events delivered"))
    def delivered_count(self, obj: SsfStream) -> int:
        return len(obj.events_delivered or [])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change permission runs the status actions; a stream's page stays read-only.
        return obj is None and bool(super().has_change_permission(request, obj))

    def delete_model(self, request: HttpRequest, obj: SsfStream) -> None:
        # Through the service: the push endpoint (and its deliveries) go with the stream.
        stream_delete(stream=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SsfStream]) -> None:
        for stream in queryset.select_related("endpoint"):
            stream_delete(stream=stream)


@admin.register(SsfSubject)
class SsfSubjectAdmin(ModelAdmin):
    """Customers receivers added to or removed from their streams (SSF 1.0 8.1.3)."""

    list_display = ("subject", "stream", "user", "added", "verified", "updated_at")
    list_filter = ("added", "verified")
    list_select_related = ("stream", "user")
    search_fields = ("subject", "stream__stream_id", "user__email")
    fields = ("stream", "subject", "user", "added", "verified", "created_at", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SsfControlEvent)
class SsfControlEventAdmin(ModelAdmin):
    """Verification and stream-updated SETs and how their pushes went."""

    list_display = ("kind", "stream", "attempts", "last_status_code", "delivered_at", "created_at")
    list_filter = ("kind", "created_at")
    list_select_related = ("stream",)
    search_fields = ("stream__stream_id", "jti")
    fields = (
        "stream",
        "kind",
        "payload",
        "jti",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
