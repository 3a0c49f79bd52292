"""Fan-out: the deliveries an event owes, written in the transaction that wrote the event.

Connected to ``events.signals.event_written`` (sent inside the writing transaction, see
events/services/outbox.py), so a committed event always has its deliveries and a rolled-back
one never has any: nothing is lost between the outbox and the worker.

It runs with every event, sign-ins included, so its query is compiled once per database
and per process (building a queryset costs more than running it): one SELECT of the
endpoints that receive (active, or off but holding their deliveries: a paused Shared
Signals stream), then one INSERT only when some match.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db import connections, router
from django.db.models import Q, QuerySet

from ..models import Delivery, Endpoint

# database alias -> (SQL, params) of the receiving endpoints' (pk, event_types)
_compiled: dict[str, tuple[str, tuple[Any, ...]]] = {}


@lru_cache(maxsize=512)
def _types_selected(patterns: tuple[str, ...]) -> frozenset[str]:
    from events.catalogue import event_types_matching

    return frozenset(event_types_matching(patterns))


def _matches(patterns: Any, event_type: str) -> bool:
    if not isinstance(patterns, list) or not patterns:
        return False
    return event_type in _types_selected(tuple(str(pattern) for pattern in patterns))


def receiving_endpoints() -> QuerySet[Endpoint]:
    """Endpoints new events are written for: the active ones, and the ones holding their
    deliveries while off (``Endpoint.held``)."""
    return Endpoint.objects.filter(Q(active=True) | Q(held=True))


def _receiving_patterns() -> list[tuple[int, Any]]:
    """(pk, event_types) of ``receiving_endpoints()``, through the compiled query."""
    alias = router.db_for_read(Endpoint)
    connection = connections[alias]
    if alias not in _compiled:
        query = receiving_endpoints().order_by().values_list("pk", "event_types").query
        _compiled[alias] = query.get_compiler(using=alias).as_sql()
    sql, params = _compiled[alias]
    decode = Endpoint._meta.get_field("event_types").from_db_value
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(pk, decode(types, None, connection)) for pk, types in rows]  # type: ignore[arg-type]


def deliveries_create(*, event: Any) -> list[Delivery]:
    """One pending delivery of ``event`` per endpoint of ``receiving_endpoints()`` whose event
    types match it."""
    rows = _receiving_patterns()
    owed = [
        Delivery(endpoint_id=pk, event=event, subject=event.subject or "")
        for pk, patterns in rows
        if _matches(patterns, event.type)
    ]
    if not owed:
        return []
    return Delivery.objects.bulk_create(owed)


def on_event_written(sender: Any = None, *, event: Any, **kwargs: Any) -> None:
    """Receiver of ``events.signals.event_written``."""
    deliveries_create(event=event)
