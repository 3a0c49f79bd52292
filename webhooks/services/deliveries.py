"""Deliveries' lifecycle: claimed by a worker, recorded after each attempt, replayed or
cancelled by an operator, parked while their endpoint is disabled.

Claiming (``deliveries_claim``) is one short transaction: due pending deliveries with no
lease (or a lapsed one), no earlier pending delivery for the same endpoint and subject (a
later event for a user waits for the earlier one), on endpoints below their in-flight cap;
on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED``, so several workers share the work and
never claim the same row. SQLite has no row locks: run one worker there (its IMMEDIATE
transactions still serialise claims). A claim sets ``lease_until``: a worker that dies
mid-delivery leaves the lease, and the delivery is claimed again once it lapses, with the
same ``webhook-id``: nothing is lost, duplicates are what at-least-once allows.

Recording (``delivery_record``) only changes a delivery still held under the same lease;
the attempt is logged in any case.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ..app_settings import app_settings
from ..models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint

logger = logging.getLogger("webhooks.worker")

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Claim:
    """A delivery a worker holds until ``lease_until``."""

    delivery: Delivery
    lease_until: datetime


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: an HTTP status, or an error (network, refused URL,
    formatter); ``skipped`` when the formatter found nothing the receiver may see."""

    started_at: datetime
    duration_ms: int = 0
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    skipped: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def lease_seconds() -> float:
    return 2 * app_settings.TIMEOUT_SECONDS + app_settings.LEASE_MARGIN_SECONDS


def due_deliveries(now: datetime) -> QuerySet[Delivery]:
    """Pending, due, unleased (or lapsed), on active endpoints, first of their subject."""
    earlier = Delivery.objects.filter(
        endpoint=OuterRef("endpoint"),
        subject=OuterRef("subject"),
        status=DeliveryStatus.PENDING,
        event__lt=OuterRef("event"),
    )
    return (
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            endpoint__active=True,
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .filter(Q(subject="") | ~Exists(earlier))
    )


def in_flight_by_endpoint(now: datetime) -> dict[int, int]:
    """Deliveries leased now (being sent, by any worker), per endpoint."""
    rows = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, lease_until__gt=now)
        .values("endpoint")
        .annotate(count=Count("id"))
        .values_list("endpoint", "count")
    )
    return dict(rows)


def deliveries_claim(*, limit: int, now: datetime | None = None) -> list[Claim]:
    """Claim up to ``limit`` due deliveries (see the module's docstring), at most
    ``CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY`` in flight per endpoint."""
    if limit <= 0:
        return []
    cap = max(1, app_settings.PER_ENDPOINT_CONCURRENCY)
    moment = now or timezone.now()
    lease_until = moment + timedelta(seconds=lease_seconds())
    with transaction.atomic():
        busy = in_flight_by_endpoint(moment)
        full = [endpoint for endpoint, count in busy.items() if count >= cap]
        candidates = due_deliveries(moment).exclude(endpoint__in=full)
        candidates = candidates.order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        # More candidates than slots: a busy endpoint's surplus is left for the next claim.
        rows = list(candidates.values_list("pk", "endpoint_id")[: limit + limit * cap])
        chosen: list[int] = []
        for pk, endpoint_id in rows:
            if busy.get(endpoint_id, 0) >= cap:
                continue
            busy[endpoint_id] = busy.get(endpoint_id, 0) + 1
            chosen.append(pk)
            if len(chosen) >= limit:
                break
        if chosen:
            Delivery.objects.filter(pk__in=chosen).update(lease_until=lease_until)
    if not chosen:
        return []
    deliveries = Delivery.objects.select_related(
        "endpoint", "endpoint__application", "event", "event__user"
    ).filter(pk__in=chosen, lease_until=lease_until)
    return [
        Claim(delivery, lease_until) for delivery in sorted(deliveries, key=lambda d: d.event_id)
    ]


def retry_delay(attempts: int) -> float | None:
    """Seconds before the retry after ``attempts`` failed attempts, with jitter; None when
    the schedule is used up."""
    schedule = app_settings.RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    jitter = max(0.0, min(1.0, app_settings.RETRY_JITTER))
    return max(0.0, base * (1 + random.uniform(-jitter, jitter)))  # noqa: S311 - not a secret


def _clip(text: str) -> str:
    return text[:MAX_ERROR_LENGTH]


@transaction.atomic
def delivery_record(*, claim: Claim, outcome: Outcome) -> str:
    """Log the attempt and move the delivery on: succeeded (2xx); endpoint disabled and the
    delivery parked (410 Gone, Standard Webhooks: stop sending); retried later or failed
    (dead letter) once ``CIAM_WEBHOOKS_RETRY_SCHEDULE`` is used up. Returns the new status
    (``lost``: another worker or an operator took the delivery meanwhile)."""
    delivery = claim.delivery
    now = timezone.now()
    held = Delivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, lease_until=claim.lease_until
    )
    if outcome.skipped:
        updated = held.update(status=DeliveryStatus.SKIPPED, lease_until=None)
        return DeliveryStatus.SKIPPED if updated else "lost"
    DeliveryAttempt.objects.create(
        delivery=delivery,
        started_at=outcome.started_at,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        error=_clip(outcome.error),
        response_excerpt=outcome.excerpt,
    )
    attempts = delivery.attempts + 1
    common: dict[str, Any] = {
        "attempts": F("attempts") + 1,
        "lease_until": None,
        "last_status_code": outcome.status_code,
        "last_error": _clip(outcome.error),
    }
    if outcome.succeeded:
        status = DeliveryStatus.SUCCEEDED
        updated = held.update(status=status, delivered_at=now, **common)
    elif outcome.status_code == 410:
        status = DeliveryStatus.PENDING
        updated = held.update(next_attempt_at=now, **common)
        if updated:
            endpoint_disable(
                endpoint=delivery.endpoint,
                reason=_("The receiver answered 410 Gone on %(when)s.")
                % {"when": f"{now:%Y-%m-%d %H:%M} UTC"},
            )
    else:
        delay = retry_delay(attempts)
        if delay is None:
            status = DeliveryStatus.FAILED
            updated = held.update(status=status, **common)
        else:
            status = DeliveryStatus.PENDING
            updated = held.update(next_attempt_at=now + timedelta(seconds=delay), **common)
    if not updated:
        logger.warning("delivery %s changed hands during its attempt", delivery.pk)
        return "lost"
    return status


@transaction.atomic
def deliveries_record(*, results: list[tuple[Claim, Outcome]]) -> list[str]:
    """``delivery_record`` for many attempts in one transaction; the successes (the common
    case) in one insert of their attempts and one update per lease and status code.
    Returns the new status of each, in order."""
    statuses: list[str] = []
    successes: dict[tuple[datetime, int], list[int]] = {}
    attempts: list[DeliveryAttempt] = []
    for claim, outcome in results:
        if outcome.skipped or not outcome.succeeded:
            statuses.append(delivery_record(claim=claim, outcome=outcome))
            continue
        assert outcome.status_code is not None
        key = (claim.lease_until, outcome.status_code)
        successes.setdefault(key, []).append(claim.delivery.pk)
        attempts.append(
            DeliveryAttempt(
                delivery=claim.delivery,
                started_at=outcome.started_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                response_excerpt=outcome.excerpt,
            )
        )
        statuses.append(DeliveryStatus.SUCCEEDED)
    if attempts:
        DeliveryAttempt.objects.bulk_create(attempts)
    now = timezone.now()
    for (lease_until, status_code), pks in successes.items():
        updated = Delivery.objects.filter(
            pk__in=pks, status=DeliveryStatus.PENDING, lease_until=lease_until
        ).update(
            status=DeliveryStatus.SUCCEEDED,
            delivered_at=now,
            attempts=F("attempts") + 1,
            lease_until=None,
            last_status_code=status_code,
            last_error="",
        )
        if updated != len(pks):
            logger.warning("%d deliveries changed hands during their attempt", len(pks) - updated)
    return statuses


def endpoint_disable(*, endpoint: Endpoint, reason: str) -> None:
    """Stop sending to ``endpoint``; its pending deliveries wait (parked) until it is
    enabled again, and no new ones are made for it meanwhile."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_reason=_clip(reason), disabled_at=timezone.now()
    )
    logger.warning("endpoint %s disabled: %s", endpoint.pk, reason)


def endpoint_enable(*, endpoint: Endpoint) -> None:
    """Send to ``endpoint`` again, its parked deliveries first (they are due now)."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        active=True, disabled_reason="", disabled_at=None
    )
    Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now()
    )


def delivery_replay(*, delivery: Delivery) -> bool:
    """Send ``delivery`` again now, with a fresh retry schedule (failed, succeeded, skipped
    or cancelled ones; a pending one is just made due). Same webhook-id as before. One
    being sent right now is left alone (False)."""
    now = timezone.now()
    in_flight = Q(status=DeliveryStatus.PENDING, lease_until__gt=now)
    updated = (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(in_flight)
        .update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
        )
    )
    return bool(updated)


def delivery_cancel(*, delivery: Delivery) -> bool:
    """Give up a pending delivery: it is never sent (again)."""
    updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, lease_until=None
    )
    return bool(updated)
