"""manage.py verify_consent_ledger: check every consent hash chain; exit 1 on a break."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from consent.models import ConsentRecord
from consent.selectors import ledger_breaks


class Command(BaseCommand):
    help = (
        "Verify the consent ledger's hash chains (one per user): print a line per chain "
        "and exit with status 1 when a record was rewritten, removed or reordered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--broken-only", action="store_true", help="Print only the chains that fail."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts: Counter[str] = Counter()
        users: dict[str, int | None] = {}
        for subject, user_id in ConsentRecord.objects.values_list("subject", "user_id"):
            counts[subject] += 1
            if user_id is not None or subject not in users:
                users[subject] = user_id
        breaks = ledger_breaks()
        by_subject: dict[str, list[str]] = {}
        for found in breaks:
            where = f"#{found.sequence} {found.record_id}"
            by_subject.setdefault(found.subject, []).append(
                f"    {where}: {found.reason} ({found.detail})"
            )
        for subject in sorted(counts, key=lambda s: (users[s] is None, users[s] or 0, s)):
            broken = subject in by_subject
            if options["broken_only"] and not broken:
                continue
            owner = users[subject]
            who = f"user {owner}" if owner is not None else f"erased {subject[:16]}"
            status = "BROKEN" if broken else "OK"
            line = f"{who}: {counts[subject]} records, {status}"
            self.stdout.write(self.style.ERROR(line) if broken else line)
            for detail in by_subject.get(subject, []):
                self.stdout.write(detail)
        total = sum(counts.values())
        summary = f"{len(counts)} chains, {total} records: "
        if breaks:
            self.stdout.write(
                self.style.ERROR(summary + f"{len(by_subject)} broken, {len(breaks)} problems")
            )
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(summary + "OK"))
