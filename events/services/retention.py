"""Retention of the outbox: old events go once nobody is still owed them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.apps import apps
from django.db import DatabaseError, models
from django.utils import timezone

from ..app_settings import app_settings
from ..models import OutboxEvent, StreamCursor

logger = logging.getLogger(__name__)

# Statuses of webhooks.Delivery that are not finished (the worker still owes them).
UNFINISHED_DELIVERY_STATUSES = ("pending",)


def _unfinished_deliveries() -> models.QuerySet[models.Model] | None:
    """Deliveries still owed, or None when the webhooks app (or its table) is absent."""
    if not apps.is_installed("webhooks"):
        return None
    try:
        delivery = apps.get_model("webhooks", "Delivery")
    except LookupError:
        return None
    return delivery._default_manager.filter(status__in=UNFINISHED_DELIVERY_STATUSES)


def events_prunable(*, before: datetime | None = None) -> models.QuerySet[OutboxEvent]:
    """Events older than CIAM_EVENTS_RETENTION_DAYS (or ``before``), without a delivery
    still owed, and already published by the stream sink when it runs."""
    before = before or timezone.now() - timedelta(days=app_settings.RETENTION_DAYS)
    events = OutboxEvent.objects.filter(time__lt=before, created_at__lt=before)
    unfinished = _unfinished_deliveries()
    if unfinished is not None:
        events = events.exclude(models.Exists(unfinished.filter(event_id=models.OuterRef("pk"))))
    if app_settings.STREAM_URL:
        cursor = StreamCursor.objects.filter(name="redis-stream").first()
        events = events.filter(pk__lte=cursor.last_event_id if cursor else 0)
    return events


def events_prune(*, before: datetime | None = None, batch: int = 1000) -> int:
    """Delete the prunable events in batches (their finished deliveries go with them); how
    many were deleted."""
    deleted = 0
    while True:
        try:
            ids = list(
                events_prunable(before=before).order_by("pk").values_list("pk", flat=True)[:batch]
            )
        except DatabaseError:
            # The webhooks tables are not migrated here: prune by age alone.
            logger.warning("events_prune: deliveries unreadable, pruning by age only")
            before = before or timezone.now() - timedelta(days=app_settings.RETENTION_DAYS)
            ids = list(
                OutboxEvent.objects.filter(time__lt=before, created_at__lt=before)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
        if not ids:
            return deleted
        OutboxEvent.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
