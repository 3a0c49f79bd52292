"""What the transactional outbox costs a sign-in.

In-process, one thread, on a throwaway test database (SQLite with the default settings); no
server, no network. ``benchmarks/run --events`` runs it (then ingest and webhook delivery).

Measured, as the median and p95 of ``--iterations`` after a warm-up, each pair interleaved
(one iteration with the events receivers connected, the next without, so that drift of the
machine falls on both):

- **sign-in**: ``django.contrib.auth.login`` of a customer on a fresh database session, as
  the hosted form ends (its ``user_logged_in`` receivers: sessions_ctx's ``session_start``,
  the session's record, the risk evaluation, the audit log), with and without the events
  receivers; the difference is the outbox's share: the ``user.signed_in`` row, its
  ``event_written`` receivers (the webhooks fan-out, when installed) and the on-commit
  ``event_committed`` ones;
- **audit entry + event**: ``audit_record`` of a session end, with and without the event its
  ``post_save`` writes (``session.revoked``);
- **event_emit alone**: one ``user.signed_in`` written inside a transaction.

Target: the outbox adds < 1 ms (median) to a sign-in.

Run: ``benchmarks/run --events`` or ``.venv/bin/python benchmarks/events.py [--iterations N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
os.environ.setdefault("CIAM_STATIC_MANIFEST", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

TARGET_MS = 1.0
UIDS = (
    "events.audit_entry",
    "events.sign_in_completed",
    "events.authentication_recorded",
    "events.risk_challenged",
    "events.assurance_changed",
    "events.user_pre_delete",
)


def _ms(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) / 1e6, p95 / 1e6


@contextmanager
def events_off() -> Any:
    """The events receivers disconnected (as if the events app were not installed)."""
    from django.db.models.signals import post_save, pre_delete

    from audit.models import AuditEntry
    from sessions_ctx import signals as sessions_signals

    post_save.disconnect(sender=AuditEntry, dispatch_uid="events.audit_entry")
    pre_delete.disconnect(sender=settings.AUTH_USER_MODEL, dispatch_uid="events.user_pre_delete")
    for name in ("sign_in_completed", "authentication_recorded", "risk_challenged"):
        getattr(sessions_signals, name).disconnect(dispatch_uid=f"events.{name}")
    sessions_signals.assurance_changed.disconnect(dispatch_uid="events.assurance_changed")
    try:
        yield
    finally:
        from events.receivers import connect

        connect()


@contextmanager
def receivers_detached(*signals: Any) -> Any:
    """The receivers of ``signals`` (other apps': the webhooks fan-out, the live monitor)
    detached for a while, to measure the outbox's own write."""
    saved = [(signal, list(signal.receivers)) for signal in signals]
    for signal, _receivers in saved:
        signal.receivers = []
        signal.sender_receivers_cache.clear()
    try:
        yield
    finally:
        for signal, receivers in saved:
            signal.receivers = receivers
            signal.sender_receivers_cache.clear()


def receiver_names(signal: Any) -> str:
    names = [
        str(key[0][0]) if isinstance(key[0], tuple) else str(key[0]) for key in signal.receivers
    ]
    return ", ".join(names) or "none"


def paired(
    run: Callable[[Any], object], prepare: Callable[[int], Any], iterations: int, warmup: int
) -> tuple[list[int], list[int]]:
    """Nanoseconds of ``run(prepare(i))`` with events on and off, interleaved."""
    on: list[int] = []
    off: list[int] = []
    for i in range(warmup + iterations):
        for state in (True, False):
            argument = prepare(i)
            if state:
                start = time.perf_counter_ns()
                run(argument)
                elapsed = time.perf_counter_ns() - start
            else:
                with events_off():
                    start = time.perf_counter_ns()
                    run(argument)
                    elapsed = time.perf_counter_ns() - start
            if i >= warmup:
                (on if state else off).append(elapsed)
    return on, off


def run(iterations: int) -> list[tuple[str, float, float, int]]:
    from django.contrib.auth import login
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    from accounts.services.users import user_create
    from audit.services import audit_record
    from events.models import OutboxEvent
    from events.services.outbox import event_emit
    from events.signals import event_committed, event_written

    print(f"event_written receivers: {receiver_names(event_written)}")
    print(f"event_committed receivers: {receiver_names(event_committed)}")

    rows: list[tuple[str, float, float, int]] = []
    users = [
        user_create(email=f"bench{i}@example.com", password=None, validate=False) for i in range(20)
    ]
    factory = RequestFactory()

    def request_for(i: int) -> Any:
        request = factory.post(
            "/accounts/login/",
            REMOTE_ADDR="203.0.113.7",
            HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36",
        )
        request.session = SessionStore()
        request.user = users[i % len(users)]
        return request

    def sign_in(request: Any) -> None:
        login(request, request.user, backend="django.contrib.auth.backends.ModelBackend")

    warmup = max(10, iterations // 10)
    # The outbox's own write first: the other apps' receivers may start threads (the live
    # monitor's publisher) whose work would otherwise fall into this measurement.
    with receivers_detached(event_written, event_committed):
        on, off = paired(sign_in, request_for, iterations, warmup)
    deltas = sorted(a - b for a, b in zip(on, off, strict=True))
    own_write = ("sign-in: the outbox's own write (no receivers)", *_ms(deltas), len(on))

    on, off = paired(sign_in, request_for, iterations, warmup)
    on_median, on_p95 = _ms(on)
    off_median, off_p95 = _ms(off)
    rows.append(("sign-in (login + session_start), events off", off_median, off_p95, len(off)))
    rows.append(("sign-in (login + session_start), events on", on_median, on_p95, len(on)))
    deltas = sorted(a - b for a, b in zip(on, off, strict=True))
    delta_median, delta_p95 = _ms(deltas)
    rows.append(own_write)
    rows.append(("sign-in: outbox overhead (paired on - off)", delta_median, delta_p95, len(on)))

    def audit(user: Any) -> None:
        audit_record(
            action="session.ended",
            actor=None,
            subject=user,
            changes={"sid": "bench", "from_elsewhere": True},
        )

    on, off = paired(audit, lambda i: users[i % len(users)], iterations, warmup)
    rows.append(("audit_record session.ended, events off", *_ms(off), len(off)))
    rows.append(("audit_record + session.revoked event", *_ms(on), len(on)))

    def emit_alone() -> list[int]:
        samples: list[int] = []
        for i in range(warmup + iterations):
            user = users[i % len(users)]
            start = time.perf_counter_ns()
            with transaction.atomic():
                event_emit(
                    type="user.signed_in",
                    user=user,
                    data={"method": "password", "amr": ["pwd"], "acr": "1"},
                )
            elapsed = time.perf_counter_ns() - start
            if i >= warmup:
                samples.append(elapsed)
        return samples

    with receivers_detached(event_written, event_committed):
        samples = emit_alone()
    rows.append(("event_emit + commit, no receivers (own write)", *_ms(samples), len(samples)))
    with receivers_detached(event_committed):
        samples = emit_alone()
    rows.append(("event_emit + commit, event_written receivers only", *_ms(samples), len(samples)))
    with receivers_detached(event_written):
        samples = emit_alone()
    rows.append(
        ("event_emit + commit, event_committed receivers only", *_ms(samples), len(samples))
    )
    samples = emit_alone()
    rows.append(("event_emit + commit, every receiver", *_ms(samples), len(samples)))
    rows.append(("(outbox rows written)", float(OutboxEvent.objects.count()), float("nan"), 0))
    return rows


def print_table(rows: list[tuple[str, float, float, int]]) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"Transactional outbox, in-process ({connection.vendor}), median and p95; load "
        f"average {load} on {os.cpu_count()} cores:"
    )
    print(f"  {'operation':<50} {'median ms':>10} {'p95 ms':>8} {'n':>6}")
    for name, median, p95, count in rows:
        if not count:
            print(f"  {name:<50} {median:10.0f}")
            continue
        print(f"  {name:<50} {median:10.3f} {p95:8.3f} {count:6d}")
    for label in ("overhead", "own write"):
        name, median = next((n, m) for n, m, _, _ in rows if label in n and "sign-in" in n)
        verdict = "PASS" if median < TARGET_MS else "FAIL"
        print(f"  [{verdict}] {name}: median {median:.3f} ms (target < 1 ms)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--iterations", type=int, default=500, help="per row (default 500)")
    args = parser.parse_args(argv)
    iterations = max(20, args.iterations)
    setup_test_environment()
    settings.DEBUG = False
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        rows = run(iterations)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
