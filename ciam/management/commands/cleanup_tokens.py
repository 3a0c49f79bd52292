from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ciam.services.cleanup import tokens_cleanup_all


class Command(BaseCommand):
    help = "Delete expired codes, tokens and retired signing keys, in small batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, **options: Any) -> None:
        counts = tokens_cleanup_all(limit=max(1, options["batch_size"]))
        for kind, count in counts.items():
            self.stdout.write(f"{kind}: {count} deleted")
