"""``manage.py events_worker``: deliver the outbox to webhook and Shared Signals endpoints."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from webhooks.services.worker import DeliveryWorker


class Command(BaseCommand):
    help = (
        "Send due deliveries to webhook and SSF endpoints, with retries. Run several on "
        "PostgreSQL (they share the work); one on SQLite. SIGTERM or SIGINT: finish the "
        "requests in flight, then exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Exit once nothing is due and nothing is in flight.",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="Deliveries sent at once (default CIAM_WEBHOOKS_CONCURRENCY).",
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=None,
            help="Seconds between looks for due deliveries when idle "
            "(default CIAM_WEBHOOKS_POLL_SECONDS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker = DeliveryWorker(concurrency=options["concurrency"], poll_seconds=options["poll"])

        def stop(signum: int, frame: FrameType | None) -> None:
            worker.stop()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            stats = worker.run(once=options["once"])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        summary = ", ".join(f"{status} {n}" for status, n in sorted(stats.by_status.items()))
        self.stdout.write(f"{stats.attempts} attempts" + (f" ({summary})" if summary else ""))
