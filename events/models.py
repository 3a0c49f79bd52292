"""The transactional outbox: every domain event, written in the transaction of its change."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxEvent(models.Model):
    """One domain event (a CloudEvents 1.0 event once enveloped, ``selectors.event_envelope``).

    The primary key is the global order. ``data`` holds everything the event knows, personal
    values wrapped as tagged values (``events.tags``): it is never sent as is, each receiver
    gets its projection.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(_("event ID"), unique=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("type"), max_length=100)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    time = models.DateTimeField(_("time"), default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["type", "id"], name="events_type_id"),
            models.Index(fields=["user", "id"], name="events_user_id"),
            models.Index(fields=["time"], name="events_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type}"


class StreamCursor(models.Model):
    """How far a sink has published the outbox: the last event id it wrote (a restart
    resumes after it; at-least-once)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    last_event_id = models.BigIntegerField(_("last event"), default=0)
    # Ids missing in the outbox order, as [first id, last id, first seen (epoch seconds,
    # the sink's clock)]: "waiting" above last_event_id (maybe a transaction in flight),
    # "skipped" below it (gone past; still published if they turn up, for a while).
    waiting = models.JSONField(_("gaps waited for"), default=list, blank=True)
    skipped = models.JSONField(_("gaps gone past"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stream cursor")
        verbose_name_plural = _("stream cursors")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_event_id}"
