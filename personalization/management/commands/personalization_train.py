"""``manage.py personalization_train``: interests, recommendations, contact windows and
segments from the consented interactions (personalization/services/training.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.services.training import personalization_train


class Command(BaseCommand):
    help = (
        "Train personalization: a full run refits the models over every consenting "
        "customer's history; an incremental run updates the customers with new activity "
        "from the stored model. Without an option: full when the last full run is older "
        "than CIAM_PERSONALIZATION_FULL_EVERY_HOURS, incremental otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--full", action="store_true", help="refit the models")
        group.add_argument(
            "--incremental", action="store_true", help="update customers with new activity"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = "full" if options["full"] else "incremental" if options["incremental"] else "auto"
        try:
            run = personalization_train(kind=kind)
        except Exception as error:
            raise CommandError(f"training failed: {error}") from error
        self.stdout.write(
            f"{run.kind} run ({run.model}): {run.users} customers, {run.interactions} "
            f"interactions, {run.items} items in {run.seconds:.2f} s."
        )
