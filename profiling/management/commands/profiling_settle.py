"""``manage.py profiling_settle``: questions left unanswered become abandoned sign-ins."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from profiling.services.questions import questions_settle


class Command(BaseCommand):
    help = (
        "Give the outcome 'abandoned' to profile questions neither answered nor skipped "
        "within CIAM_PROFILING_ABANDON_AFTER_MINUTES, and tell the learner."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        while True:
            settled = questions_settle()
            total += settled
            if settled == 0:
                break
        self.stdout.write(f"{total} question(s) settled as abandoned.")
