"""Writing domain events to the outbox, in the transaction of the change they describe."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from ..catalogue import event_type
from ..models import OutboxEvent
from ..signals import event_committed, event_written

logger = logging.getLogger(__name__)


def _subject_of(user: Any | None) -> str:
    return str(getattr(user, "public_id", "") or "") if user is not None else ""


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as JSON types (dates, UUIDs, decimals as strings), as it will be stored."""
    import json

    return dict(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


def event_emit(
    *,
    type: str,  # the contract's name (CloudEvents "type")
    user: Any | None = None,
    data: dict[str, Any] | None = None,
    time: datetime | None = None,
) -> OutboxEvent:
    """Append one event of catalogue ``type`` about ``user`` to the outbox.

    Written in the caller's transaction (a savepoint-less atomic block: it never commits by
    itself), so a rolled-back change never has its event and a committed one always does.
    ``events.signals.event_written`` is sent right after the insert, in that transaction;
    ``event_committed`` once it commits. An unknown ``type`` raises ``ValueError``.
    """
    entry = event_type(type)
    if user is not None and getattr(user, "pk", None) is None:
        user = None  # an unsaved or anonymous user is nobody
    with transaction.atomic(savepoint=False):
        event = OutboxEvent.objects.create(
            type=entry.key,
            version=entry.version,
            time=time or timezone.now(),
            user=user,
            subject=_subject_of(user),
            data=_plain(data or {}),
        )
        event_written.send(sender=OutboxEvent, event=event)
        transaction.on_commit(
            lambda: _committed(event),
            robust=True,
        )
    return event


def event_emit_many(*, items: list[dict[str, Any]]) -> list[OutboxEvent]:
    """Append several events in one INSERT (batch writers: the interactions ingest).

    Each item is a dict with ``type`` and optional ``user``, ``data``, ``time`` (the
    arguments of ``event_emit``). All types are checked before anything is written (an
    unknown one raises ``ValueError``). One ``bulk_create`` in the caller's transaction
    (primary keys come back on PostgreSQL and SQLite 3.35+), then ``event_written`` per
    event in order, and one on-commit callback sending ``event_committed`` for each.
    """
    if not items:
        return []
    now = timezone.now()
    rows: list[OutboxEvent] = []
    for item in items:
        unknown = set(item) - {"type", "user", "data", "time"}
        if unknown:
            raise ValueError(f"event_emit_many: unknown item keys {sorted(unknown)}")
        entry = event_type(str(item.get("type", "")))
        user = item.get("user")
        if user is not None and getattr(user, "pk", None) is None:
            user = None
        rows.append(
            OutboxEvent(
                type=entry.key,
                version=entry.version,
                time=item.get("time") or now,
                user=user,
                subject=_subject_of(user),
                data=_plain(item.get("data") or {}),
            )
        )
    with transaction.atomic(savepoint=False):
        events = OutboxEvent.objects.bulk_create(rows)
        if any(event.pk is None for event in events):  # a database that returns no ids
            raise RuntimeError("event_emit_many needs a database returning inserted ids.")
        for event in events:
            event_written.send(sender=OutboxEvent, event=event)
        transaction.on_commit(lambda: _committed_many(events), robust=True)
    return events


def _committed(event: OutboxEvent) -> None:
    for receiver, result in event_committed.send_robust(sender=OutboxEvent, event=event):
        if isinstance(result, Exception):
            logger.error(
                "event_committed receiver %r failed for event %s",
                receiver,
                event.pk,
                exc_info=result,
            )


def _committed_many(events: list[OutboxEvent]) -> None:
    for event in events:
        _committed(event)


def events_user_attach(*, event_pks: list[int], user: Any) -> int:
    """Give anonymous events, later linked to a customer (an identified visitor's
    interactions), their user and public subject, so that the customer's erasure
    (``events_forget_user``) finds them. Events that already name someone (a user, or the
    public subject of an erased one) are left alone.
    How many events changed. Write it in the linking transaction."""
    if not event_pks or user is None or getattr(user, "pk", None) is None:
        return 0
    return int(
        OutboxEvent.objects.filter(pk__in=list(event_pks), user__isnull=True, subject="").update(
            user=user, subject=_subject_of(user)
        )
    )


def events_forget_user(*, user: Any) -> int:
    """An erased person's earlier events keep their facts, not their personal values (the
    tagged ones: email addresses, profile answers). How many events changed."""
    from ..tags import without_tagged

    changed = 0
    for event in OutboxEvent.objects.filter(user=user).only("pk", "data").iterator():
        data = without_tagged(event.data or {})
        if data != event.data:
            OutboxEvent.objects.filter(pk=event.pk).update(data=data)
            changed += 1
    return changed
