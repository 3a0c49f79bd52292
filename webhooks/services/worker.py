"""The delivery worker (``manage.py events_worker``).

One thread (the caller's) does all database work: it claims due deliveries
(services/deliveries.py), builds each request with the endpoint kind's formatter, hands the
HTTP call to a pool of ``concurrency`` threads and records each outcome as it comes back.
The pool threads only talk HTTP, through ``sessions_ctx.outbound.outbound_request`` (the
SSRF guard, ``CIAM_WEBHOOKS_TIMEOUT_SECONDS``). A slow or failing endpoint holds at most
``CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY`` threads (claims skip endpoints at their cap), so
the others keep flowing.

``stop()`` (the command calls it on SIGTERM and SIGINT) ends the loop after the requests in
flight have finished and been recorded: nothing claimed is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import requests
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.module_loading import import_string

from sessions_ctx.outbound import OutboundRefused, outbound_request

from ..app_settings import app_settings
from ..formats import OutgoingRequest
from .deliveries import (
    Claim,
    Outcome,
    deliveries_claim,
    deliveries_record,
    delivery_record,
)

logger = logging.getLogger("webhooks.worker")

Formatter = Callable[..., OutgoingRequest | None]


@cache
def _formatter_at(path: str) -> Formatter:
    formatter: Formatter = import_string(path)
    return formatter


def formatter_for(kind: str) -> Formatter:
    """The formatter of endpoints of ``kind`` (CIAM_WEBHOOKS_FORMATTERS)."""
    path = app_settings.FORMATTERS.get(kind)
    if not path:
        raise LookupError(f"no formatter for endpoints of kind {kind!r}")
    return _formatter_at(path)


def request_build(claim: Claim) -> OutgoingRequest | None:
    delivery = claim.delivery
    formatter = formatter_for(delivery.endpoint.kind)
    return formatter(endpoint=delivery.endpoint, event=delivery.event, delivery=delivery)


def request_send(*, url: str, request: OutgoingRequest) -> Outcome:
    """POST ``request`` to ``url`` (no database: runs in the pool's threads)."""
    started_at = timezone.now()
    started = time.monotonic()
    headers = {**request.headers, "User-Agent": app_settings.USER_AGENT}
    try:
        result = outbound_request(
            url,
            body=request.body,
            headers=headers,
            timeout=app_settings.TIMEOUT_SECONDS,
            excerpt_bytes=app_settings.RESPONSE_EXCERPT_BYTES,
            keep_alive=True,
        )
    except OutboundRefused as error:
        return Outcome(started_at, _ms_since(started), error=f"refused: {error}")
    except requests.Timeout:
        return Outcome(started_at, _ms_since(started), error="timed out")
    except requests.RequestException as failure:
        text = f"{type(failure).__name__}: {failure}"
        return Outcome(started_at, _ms_since(started), error=text)
    return Outcome(
        started_at,
        int(result.elapsed * 1000),
        status_code=result.status,
        error="" if 200 <= result.status < 300 else f"HTTP {result.status}",
        excerpt=result.excerpt,
    )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@dataclass
class WorkerStats:
    """What a run did, by the status each attempt left its delivery in."""

    attempts: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1


class DeliveryWorker:
    """Claims, sends and records deliveries until stopped (or, ``once``, until none is due
    and none is in flight)."""

    def __init__(
        self, *, concurrency: int | None = None, poll_seconds: float | None = None
    ) -> None:
        self.concurrency = max(1, concurrency or app_settings.CONCURRENCY)
        self.poll_seconds = max(0.01, poll_seconds or app_settings.POLL_SECONDS)
        self.refill_at = max(1, self.concurrency // 2)
        self._stop = threading.Event()
        self.stats = WorkerStats()

    def stop(self) -> None:
        """Finish the requests in flight, record them, then return from ``run``."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, *, once: bool = False) -> WorkerStats:
        in_flight: dict[Future[Outcome], Claim] = {}
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhooks") as pool:
            try:
                while not self._stop.is_set():
                    self._record_done(in_flight)
                    free = self.concurrency - len(in_flight)
                    if in_flight and free < self.refill_at:
                        # A claim costs the same for one delivery as for many: refill the
                        # pool once a part of it is free, not after every answer.
                        wait(list(in_flight), self.poll_seconds, return_when=FIRST_COMPLETED)
                        continue
                    claimed = self._claim(free)
                    for claim in claimed:
                        self._start(pool, in_flight, claim)
                    if once and not claimed and not in_flight:
                        break
                    if claimed and len(in_flight) < self.concurrency:
                        continue  # more may be due right away
                    if in_flight:
                        wait(list(in_flight), self.poll_seconds, return_when=FIRST_COMPLETED)
                    else:
                        self._idle()
            finally:
                # Stopping: whatever was sent is waited for and recorded.
                if in_flight:
                    wait(list(in_flight))
                    self._record_done(in_flight)
        return self.stats

    def _idle(self) -> None:
        if not connection.in_atomic_block:
            close_old_connections()  # CONN_MAX_AGE: a long-running loop, like a request
        self._stop.wait(self.poll_seconds)

    def _claim(self, free: int) -> list[Claim]:
        if free <= 0:
            return []
        try:
            return deliveries_claim(limit=min(free, app_settings.CLAIM_BATCH))
        except Exception:  # the database went away: try again after a pause
            logger.exception("claiming deliveries failed")
            if not connection.in_atomic_block:
                close_old_connections()
            self._stop.wait(self.poll_seconds)
            return []

    def _start(
        self, pool: ThreadPoolExecutor, in_flight: dict[Future[Outcome], Claim], claim: Claim
    ) -> None:
        try:
            request = request_build(claim)
        except Exception as error:
            logger.exception("formatting delivery %s failed", claim.delivery.pk)
            outcome = Outcome(timezone.now(), error=f"formatter: {type(error).__name__}")
            self._record(claim, outcome)
            return
        if request is None:
            self._record(claim, Outcome(timezone.now(), skipped=True))
            return
        future = pool.submit(request_send, url=claim.delivery.endpoint.url, request=request)
        in_flight[future] = claim

    def _record_done(self, in_flight: dict[Future[Outcome], Claim]) -> None:
        done: list[tuple[Claim, Outcome]] = []
        for future in [future for future in in_flight if future.done()]:
            claim = in_flight.pop(future)
            try:
                outcome = future.result()
            except Exception as error:  # a bug in sending: counted as a failed attempt
                outcome = Outcome(timezone.now(), error=f"{type(error).__name__}: {error}")
            done.append((claim, outcome))
        if len(done) > 1:
            try:
                statuses = deliveries_record(results=done)
            except Exception:  # one at a time then, each in its own transaction
                logger.exception("recording %d deliveries at once failed", len(done))
            else:
                for (claim, outcome), status in zip(done, statuses, strict=True):
                    self._count(claim, outcome, status)
                return
        for claim, outcome in done:
            self._record(claim, outcome)

    def _record(self, claim: Claim, outcome: Outcome) -> None:
        try:
            status = delivery_record(claim=claim, outcome=outcome)
        except Exception:  # the lease lapses and the delivery is sent again
            logger.exception("recording delivery %s failed", claim.delivery.pk)
            return
        self._count(claim, outcome, status)

    def _count(self, claim: Claim, outcome: Outcome, status: str) -> None:
        if not outcome.skipped:
            self.stats.attempts += 1
            # The operators' delivery-time histogram (/metrics).
            from ciam.ops.metrics import webhook_delivery_observe

            webhook_delivery_observe(duration_ms=outcome.duration_ms)
        self.stats.count(status)
        logger.info(
            "delivery %s (event %s, endpoint %s): %s %s",
            claim.delivery.pk,
            claim.delivery.event_id,
            claim.delivery.endpoint_id,
            outcome.status_code or outcome.error or "skipped",
            status,
        )


def worker_run(**kwargs: Any) -> WorkerStats:
    """Run a worker until nothing is due (``once``) or it is stopped."""
    once = bool(kwargs.pop("once", False))
    return DeliveryWorker(**kwargs).run(once=once)
