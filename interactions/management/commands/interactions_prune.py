"""``manage.py interactions_prune``: delete interactions older than the retention period."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from interactions.app_settings import app_settings
from interactions.services.retention import interactions_prune


class Command(BaseCommand):
    help = "Delete interactions older than CIAM_INTERACTIONS_RETENTION_DAYS (run it daily)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = interactions_prune()
        self.stdout.write(
            f"Deleted {deleted} interactions older than {app_settings.RETENTION_DAYS} days."
        )
