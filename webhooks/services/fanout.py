"""Fan-out: the deliveries an event owes, written in the transaction that wrote the event.

Connected to ``events.signals.event_written`` (sent inside the writing transaction, see
events/services/outbox.py), so a committed event always has its deliveries and a rolled-back
one never has any: nothing is lost between the outbox and the worker.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ..models import Delivery, Endpoint


def _matches(patterns: Any, event_type: str) -> bool:
    from events.catalogue import event_types_matching

    if not isinstance(patterns, list) or not patterns:
        return False
    return event_type in event_types_matching([str(pattern) for pattern in patterns])


def deliveries_create(*, event: Any, endpoints: QuerySet[Endpoint] | None = None) -> list[Delivery]:
    """One pending delivery of ``event`` per endpoint of ``endpoints`` (default: the active
    ones) whose event types match it."""
    if endpoints is None:
        endpoints = Endpoint.objects.filter(active=True)
    owed = [
        Delivery(endpoint_id=pk, event=event, subject=event.subject or "")
        for pk, patterns in endpoints.values_list("pk", "event_types")
        if _matches(patterns, event.type)
    ]
    if not owed:
        return []
    return Delivery.objects.bulk_create(owed)


def on_event_written(sender: Any = None, *, event: Any, **kwargs: Any) -> None:
    """Receiver of ``events.signals.event_written``."""
    deliveries_create(event=event)
