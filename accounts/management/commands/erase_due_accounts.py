"""Erase the accounts whose deletion was asked for and whose grace period is over."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.privacy.services import erasure_due_run


class Command(BaseCommand):
    help = (
        "Erase every account whose deletion request is due (CIAM_PRIVACY_ERASURE_GRACE_DAYS "
        "after it was made) and was not cancelled by signing in again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        erased, failed = erasure_due_run()
        self.stdout.write(f"Erased {erased} account(s).")
        if failed:
            raise CommandError(f"{failed} account(s) could not be erased; see the log.")
