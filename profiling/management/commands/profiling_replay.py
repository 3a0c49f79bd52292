"""``manage.py profiling_replay``: compare question policies offline on the randomised
decisions (profiling/replay.py)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from profiling.replay import replay_compare


class Command(BaseCommand):
    help = (
        "Estimate, from the learner's randomised decisions, the reward per decision of the "
        "learner as it is now, of the fixed order and of never asking (replay evaluation)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=90, help="decisions of the last N days")

    def handle(self, *args: Any, **options: Any) -> None:
        days = max(1, int(options["days"]))
        total, estimates = replay_compare(since=timezone.now() - timedelta(days=days))
        self.stdout.write(f"{total} randomised decision(s) in the last {days} day(s).")
        self.stdout.write(f"{'policy':<14}{'reward/decision':>18}{'± 95%':>10}{'matched':>9}")
        for item in estimates:
            estimate = item.estimate
            shown = "-" if math.isnan(estimate.mean) else f"{estimate.mean:.3f}"
            spread = "-" if math.isnan(estimate.stderr) else f"{1.96 * estimate.stderr:.3f}"
            self.stdout.write(f"{item.name:<14}{shown:>18}{spread:>10}{estimate.matched:>9}")
