"""The Redis Streams sink: the outbox published to a stream for CDP and analytics consumers
(consumer groups, XREADGROUP), at least once and in outbox order.

Each committed event is appended with XADD (fields ``id``: the CloudEvents id, consumers
dedupe on it; ``type``; ``subject``; ``outbox_id``; ``event``: the envelope as JSON,
projected with CIAM_EVENTS_STREAM_SCOPES and CIAM_EVENTS_STREAM_PURPOSES) to a stream
bounded by ``MAXLEN ~``. An event that projection hides entirely is not appended (the
cursor still goes past it). Progress is a ``StreamCursor`` row, moved after Redis
acknowledged the batch: a restart resumes after the last batch written, so a crash between
the two repeats that batch (at-least-once), never skips it. The cursor only moves with a
conditional update (from the value this round read): two sinks never move it backwards.

Ids come in order of insert, not of commit: a transaction that took id N may commit after
N+1 is visible. The sink stops before a missing id (a first run included: it starts at 0)
until ``STREAM_GAP_SECONDS`` passed since the sink itself first saw the gap (its clock,
kept in the cursor's ``waiting``); then it goes on and keeps the gap in ``skipped`` for
``STREAM_GAP_KEEP_SECONDS``: an event that turns up there later (a very slow commit) is
still published, late and out of order.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from ..app_settings import app_settings
from ..models import OutboxEvent, StreamCursor
from ..selectors import event_envelope, outbox_events_after, purposes_granted_by_user

logger = logging.getLogger(__name__)

CURSOR_NAME = "redis-stream"
# At most this many skipped gaps are watched (the oldest are dropped beyond it).
MAX_SKIPPED_GAPS = 1000

Gap = list[Any]  # [first id, last id, first seen (epoch seconds)]


@dataclass(frozen=True)
class StreamRound:
    published: int
    last_event_id: int
    waiting_for_gap: bool = False
    read: int = 0  # events read and gone past (published or hidden), late ones included
    full: bool = False  # a whole batch went through: more may be ready
    conflict: bool = False  # another sink moved the cursor meanwhile: this round's was kept


def stream_client(url: str | None = None) -> Any:
    """A redis-py client of ``url`` (default CIAM_EVENTS_STREAM_URL)."""
    import redis

    url = url or app_settings.STREAM_URL
    if not url:
        raise RuntimeError("CIAM_EVENTS_STREAM_URL is not set: no stream to publish to.")
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def stream_cursor(*, name: str = CURSOR_NAME) -> StreamCursor:
    cursor, _created = StreamCursor.objects.get_or_create(name=name)
    return cursor


def _clock() -> float:
    """The sink's own clock (seconds); gaps are timed with it, never with the rows'."""
    return timezone.now().timestamp()


def _first_seen(low: int, high: int, known: list[Gap]) -> float | None:
    """When the sink first saw a gap overlapping [low, high] (gaps only shrink or split)."""
    seen = [float(gap[2]) for gap in known if int(gap[0]) <= high and low <= int(gap[1])]
    return min(seen) if seen else None


def _plan(
    events: list[OutboxEvent], *, after: int, waiting: list[Gap], now: float
) -> tuple[list[OutboxEvent], list[Gap], list[Gap]]:
    """The leading run of ``events`` publishable now, the gaps still waited for (all of
    those in ``events``, with when each was first seen), and the gaps gone past."""
    expected = after + 1
    ready: list[OutboxEvent] = []
    still_waiting: list[Gap] = []
    passed: list[Gap] = []
    stopped = False
    for event in events:
        if event.pk > expected:
            low, high = expected, event.pk - 1
            seen = _first_seen(low, high, waiting)
            seen = now if seen is None else seen
            if stopped or now - seen < app_settings.STREAM_GAP_SECONDS:
                stopped = True
                still_waiting.append([low, high, seen])
            else:
                passed.append([low, high, seen])
        if not stopped:
            ready.append(event)
        expected = event.pk + 1
    return ready, still_waiting, passed


def _without(gaps: list[Gap], found: set[int]) -> list[Gap]:
    """``gaps`` with the ids in ``found`` taken out (a gap may split)."""
    result: list[Gap] = []
    for low, high, seen in gaps:
        start = int(low)
        for pk in sorted(pk for pk in found if int(low) <= pk <= int(high)):
            if pk > start:
                result.append([start, pk - 1, seen])
            start = pk + 1
        if start <= int(high):
            result.append([start, int(high), seen])
    return result


def _late_events(skipped: list[Gap]) -> list[OutboxEvent]:
    """Events that turned up in gaps the sink went past."""
    if not skipped:
        return []
    condition = Q()
    for low, high, _seen in skipped:
        condition |= Q(pk__range=(int(low), int(high)))
    return list(
        OutboxEvent.objects.filter(condition)
        .select_related("user")
        .order_by("pk")[: app_settings.STREAM_BATCH]
    )


def stream_fields(event: OutboxEvent, *, granted: set[str] | None = None) -> dict[str, str] | None:
    """The entry XADD writes for ``event``; None when the stream may not see it."""
    envelope = event_envelope(
        event,
        purposes=app_settings.STREAM_PURPOSES,
        scopes=app_settings.STREAM_SCOPES,
        granted=granted,
    )
    if envelope is None:
        return None
    return {
        "id": str(event.event_id),
        "type": str(envelope.get("type", "")),
        "subject": str(envelope.get("subject", "")),
        "outbox_id": str(event.pk),
        "event": json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":")),
    }


def stream_publish_round(
    *, client: Any, key: str | None = None, name: str = CURSOR_NAME
) -> StreamRound:
    """Publish the next batch of committed events after the cursor (and any that turned up
    in gaps gone past); move the cursor, never backwards."""
    key = key or app_settings.STREAM_KEY
    now = _clock()
    cursor = stream_cursor(name=name)
    keep = app_settings.STREAM_GAP_KEEP_SECONDS
    skipped = [gap for gap in cursor.skipped or [] if now - float(gap[2]) < keep]
    late = _late_events(skipped)
    skipped = _without(skipped, {event.pk for event in late})
    events = outbox_events_after(last_id=cursor.last_event_id, limit=app_settings.STREAM_BATCH)
    ready, waiting, passed = _plan(
        events, after=cursor.last_event_id, waiting=list(cursor.waiting or []), now=now
    )
    skipped = (skipped + passed)[-MAX_SKIPPED_GAPS:]
    batch = [*late, *ready]
    granted = purposes_granted_by_user(batch, purposes=app_settings.STREAM_PURPOSES)
    entries = [
        fields
        for event in batch
        if (fields := stream_fields(event, granted=granted.get(event.user_id, set()))) is not None
    ]
    if entries:
        pipe = client.pipeline(transaction=False)
        for fields in entries:
            pipe.xadd(key, fields, maxlen=app_settings.STREAM_MAXLEN, approximate=True)
        pipe.execute()
    last = ready[-1].pk if ready else cursor.last_event_id
    conflict = False
    if (last, waiting, skipped) != (cursor.last_event_id, cursor.waiting, cursor.skipped):
        # Conditional: only from the state this round read (another sink may have moved it).
        moved = StreamCursor.objects.filter(
            pk=cursor.pk, last_event_id=cursor.last_event_id, updated_at=cursor.updated_at
        ).update(last_event_id=last, waiting=waiting, skipped=skipped, updated_at=timezone.now())
        if not moved:
            conflict = True
            last = (
                StreamCursor.objects.filter(pk=cursor.pk)
                .values_list("last_event_id", flat=True)
                .first()
                or last
            )
            logger.info("events_stream: another sink moved the cursor; this round repeated")
    if late:
        logger.info("events_stream: %d late events published out of order", len(late))
    return StreamRound(
        published=len(entries),
        last_event_id=last,
        waiting_for_gap=bool(waiting),
        read=len(batch),
        full=bool(events)
        and len(events) == app_settings.STREAM_BATCH
        and len(ready) == len(events),
        conflict=conflict,
    )


def stream_publish_pending(*, client: Any, key: str | None = None) -> int:
    """Rounds until nothing is ready (``events_stream --once``); how many were published."""
    total = 0
    while True:
        result = stream_publish_round(client=client, key=key)
        total += result.published
        if not result.full or result.conflict:
            return total
