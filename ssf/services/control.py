"""The stream's own SETs (SSF 1.0 8.1.4 verification, 8.1.5 stream-updated), pushed by this
app: they come from no outbox event, so the webhooks worker does not carry them.

One ``SsfControlEvent`` row per SET, written by the request (or the operator's action);
never pushed inside it: ``manage.py ssf_deliver`` (in the background) claims due rows in
batches under a lease (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two passes
never push the same SET at once), pushes them, retries failures after
``CIAM_SSF_CONTROL_RETRY_SECONDS``, then gives up, and deletes old rows. Their ``sub_id`` is
the stream itself (``opaque``, the stream_id), and they go out whatever the stream's status
(SSF 1.0 8.1.5: a pause is announced before the stream stops).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

import requests
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from sessions_ctx.outbound import OutboundRefused, outbound_request

from ..app_settings import app_settings
from ..delivery import push_headers
from ..events import STREAM_UPDATED, VERIFICATION
from ..models import ControlEventKind, SsfControlEvent, SsfStream
from ..sets import set_claims, set_sign

logger = logging.getLogger("ssf.control")

MAX_ERROR_LENGTH = 500
EVENT_TYPES = {
    ControlEventKind.VERIFICATION: VERIFICATION,
    ControlEventKind.STREAM_UPDATED: STREAM_UPDATED,
}


def control_event_queue(
    *, stream: SsfStream, kind: str, payload: dict[str, Any]
) -> SsfControlEvent:
    """Owe ``stream``'s receiver a ``kind`` SET carrying ``payload``, pushed by the next
    pass of ``manage.py ssf_deliver``."""
    return SsfControlEvent.objects.create(
        stream=stream,
        kind=kind,
        payload=payload,
        jti=secrets.token_hex(16),
        next_attempt_at=timezone.now(),
    )


def control_set(control: SsfControlEvent) -> str:
    """The signed SET of ``control``: same ``jti`` on every attempt (receivers dedupe)."""
    stream = control.stream
    claims = set_claims(
        aud=stream.aud,
        sub_id={"format": "opaque", "id": stream.stream_id},
        event_type=EVENT_TYPES[ControlEventKind(control.kind)],
        event=control.event_object(),
        jti=control.jti,
    )
    return set_sign(claims)


def control_event_deliver(*, control: SsfControlEvent) -> bool:
    """One push of ``control`` (RFC 8935 2.2: 202 Accepted; any 2xx counts). Returns whether
    it was delivered; otherwise the next attempt is scheduled, or none after the last."""
    stream = control.stream
    control.attempts += 1
    status: int | None = None
    error = ""
    try:
        headers = {**push_headers(stream.endpoint.authorization)}
        headers["User-Agent"] = app_settings.USER_AGENT
        result = outbound_request(
            stream.endpoint.url,
            body=control_set(control).encode("ascii"),
            headers=headers,
            timeout=app_settings.TIMEOUT_SECONDS,
        )
        status = result.status
        if not 200 <= status < 300:
            error = f"HTTP {status}: {result.excerpt[:200]}"
    except OutboundRefused as refused:
        error = f"refused: {refused}"
    except requests.RequestException as failure:
        error = f"{type(failure).__name__}: {failure}"
    except Exception as failure:  # a bad stored value or a bug: a failed attempt, not a crash
        logger.exception("SSF %s to stream %s failed", control.kind, stream.stream_id)
        error = f"{type(failure).__name__}: {failure}"
    now = timezone.now()
    control.last_status_code = status
    control.last_error = error[:MAX_ERROR_LENGTH]
    control.lease_until = None
    if error:
        control.next_attempt_at = _next_attempt_at(control.attempts, now)
        logger.info("SSF %s to stream %s failed: %s", control.kind, stream.stream_id, error)
    else:
        control.delivered_at = now
        control.next_attempt_at = None
    control.save(
        update_fields=[
            "attempts",
            "last_status_code",
            "last_error",
            "delivered_at",
            "next_attempt_at",
            "lease_until",
        ]
    )
    return not error


def _next_attempt_at(attempts: int, now: datetime) -> datetime | None:
    delays = app_settings.CONTROL_RETRY_SECONDS
    if attempts > len(delays):
        return None
    return now + timedelta(seconds=delays[attempts - 1])


def control_events_claim(*, now: datetime | None = None) -> list[SsfControlEvent]:
    """Lease up to ``CIAM_SSF_CONTROL_BATCH_SIZE`` due stream SETs (oldest first) for one
    pass: a leased row is not claimed again until its lease lapses (a pass that died)."""
    now = now or timezone.now()
    lease = timedelta(seconds=2 * app_settings.TIMEOUT_SECONDS + 30)
    with transaction.atomic():
        due = (
            SsfControlEvent.objects.filter(delivered_at__isnull=True, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("next_attempt_at", "id")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("pk", flat=True)[: max(app_settings.CONTROL_BATCH_SIZE, 1)])
        SsfControlEvent.objects.filter(pk__in=ids).update(lease_until=now + lease)
    return list(
        SsfControlEvent.objects.filter(pk__in=ids)
        .select_related("stream__endpoint")
        .order_by("next_attempt_at", "id")
    )


def control_events_deliver_due(*, now: datetime | None = None) -> tuple[int, int]:
    """Push the stream SETs whose next attempt is due (one leased batch); returns
    (delivered, failed)."""
    delivered = failed = 0
    for control in control_events_claim(now=now):
        if control_event_deliver(control=control):
            delivered += 1
        else:
            failed += 1
    return delivered, failed


def control_events_prune(*, now: datetime | None = None) -> int:
    """Delete stream SETs delivered or given up more than CIAM_SSF_CONTROL_RETENTION_DAYS
    ago."""
    cutoff = (now or timezone.now()) - timedelta(days=app_settings.CONTROL_RETENTION_DAYS)
    deleted, _ = (
        SsfControlEvent.objects.filter(created_at__lt=cutoff)
        .filter(Q(delivered_at__isnull=False) | Q(next_attempt_at__isnull=True))
        .delete()
    )
    return deleted
