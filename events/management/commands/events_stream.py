"""``manage.py events_stream [--once]``: publish the outbox to a Redis stream."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from events.app_settings import app_settings
from events.services.streams import stream_client, stream_publish_pending


class Command(BaseCommand):
    help = (
        "Append committed outbox events to the Redis stream CIAM_EVENTS_STREAM_KEY at "
        "CIAM_EVENTS_STREAM_URL (XADD, MAXLEN ~), resuming after the last one published."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="publish what is ready, exit")
        parser.add_argument("--url", default="", help="Redis URL (default: the setting)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client = stream_client(options["url"] or None)
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        if options["once"]:
            published = stream_publish_pending(client=client)
            self.stdout.write(f"{published} events published.")
            return
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            close_old_connections()
            try:
                published = stream_publish_pending(client=client)
            except Exception as error:  # Redis away: retry after the pause, nothing lost
                self.stderr.write(f"events_stream: {error}")
                published = 0
            if not published:
                time.sleep(app_settings.STREAM_POLL_SECONDS)
