"""``manage.py events_prune``: delete outbox events past their retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from events.app_settings import app_settings
from events.services.retention import events_prune


class Command(BaseCommand):
    help = (
        "Delete outbox events older than CIAM_EVENTS_RETENTION_DAYS whose deliveries are all "
        "finished (and, with the stream sink, already published)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override the retention")

    def handle(self, *args: Any, **options: Any) -> None:
        from datetime import timedelta

        from django.utils import timezone

        days = options["days"] if options["days"] is not None else app_settings.RETENTION_DAYS
        deleted = events_prune(before=timezone.now() - timedelta(days=days))
        self.stdout.write(f"{deleted} events deleted (older than {days} days).")
