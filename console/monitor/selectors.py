"""The live monitor's counters, counted from the outbox (events.OutboxEvent).

Every figure covers the last ``CIAM_MONITOR_WINDOW_MINUTES`` (15) minutes and reads only
rows of that window: the queries filter on ``time`` (indexed, ``events_time``) and the type,
and aggregate in the database (one row per minute and method, not per event).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Max
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncMinute
from django.utils import timezone

from .app_settings import app_settings

logger = logging.getLogger(__name__)

SIGN_IN = "user.signed_in"
# Each counter card and the event types it counts.
COUNTERS: dict[str, tuple[str, ...]] = {
    "sign_ins": (SIGN_IN,),
    "sign_ups": ("user.created",),
    "challenges": ("risk.challenged",),
    "consent_changes": ("consent.granted", "consent.withdrawn"),
}
UNKNOWN_METHOD = "other"


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _method(value: Any) -> str:
    return str(value)[:40] if isinstance(value, str) and value else UNKNOWN_METHOD


def webhook_backlog() -> int | None:
    """Deliveries waiting (webhooks.selectors.delivery_backlog); None when the webhooks app
    is not installed here or cannot answer."""
    from django.apps import apps

    if not apps.is_installed("webhooks"):
        return None
    try:
        from webhooks.selectors import delivery_backlog

        return int(delivery_backlog())
    except Exception:  # a missing table or app must not break the monitor
        logger.warning("live monitor: the webhook backlog could not be read", exc_info=True)
        return None


def monitor_snapshot(*, now: datetime | None = None) -> dict[str, Any]:
    """The counters of the last window: totals per card, sign-ins per minute by method
    (oldest minute first, the current one last), the webhook backlog, and ``through_seq``:
    the highest outbox order counted (the page counts a live event only above it, so an
    event both counted here and received live is counted once)."""
    from events.models import OutboxEvent

    now = now or timezone.now()
    minutes = max(1, app_settings.WINDOW_MINUTES)
    last = _minute(now)
    first = last - timedelta(minutes=minutes - 1)
    window = OutboxEvent.objects.filter(time__gte=first, time__lte=now).order_by()
    types = [key for keys in COUNTERS.values() for key in keys]
    by_type: dict[str, int] = {}
    through_seq = 0
    for row in (
        window.filter(type__in=types).values("type").annotate(total=Count("pk"), last=Max("pk"))
    ):
        by_type[row["type"]] = row["total"]
        through_seq = max(through_seq, row["last"] or 0)
    # Only rows the totals counted (a sign-in committed between the two queries is not).
    rows = (
        window.filter(type=SIGN_IN, pk__lte=through_seq)
        .annotate(minute=TruncMinute("time"), method=KeyTextTransform("method", "data"))
        .values("minute", "method")
        .annotate(total=Count("pk"))
    )
    slots = [first + timedelta(minutes=index) for index in range(minutes)]
    per_method: dict[str, list[int]] = {}
    for row in rows:
        minute = row["minute"]
        if minute is None:
            continue
        if timezone.is_naive(minute):
            minute = timezone.make_aware(minute, UTC)
        index = int((_minute(minute) - first).total_seconds() // 60)
        if 0 <= index < minutes:
            method = _method(row["method"])
            per_method.setdefault(method, [0] * minutes)[index] += row["total"]
    return {
        "kind": "snapshot",
        "at": now.isoformat(),
        "through_seq": through_seq,
        "window_minutes": minutes,
        "minutes": [slot.isoformat() for slot in slots],
        "sign_ins_by_method": dict(sorted(per_method.items())),
        "counters": {
            name: sum(by_type.get(key, 0) for key in keys) for name, keys in COUNTERS.items()
        },
        "webhook_backlog": webhook_backlog(),
    }


class SharedSnapshot:
    """One snapshot per process per ``CIAM_MONITOR_SNAPSHOT_SECONDS``, shared by every socket
    of the process (a hundred open monitors cost the database what one does)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None
        self._computed = 0.0

    def get(self) -> dict[str, Any]:
        ttl = max(0.0, app_settings.SNAPSHOT_SECONDS)
        with self._lock:
            if self._value is None or time.monotonic() - self._computed >= ttl:
                self._value = monitor_snapshot()
                self._computed = time.monotonic()
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value = None


shared_snapshot = SharedSnapshot()
