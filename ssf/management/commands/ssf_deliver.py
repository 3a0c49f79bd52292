"""``manage.py ssf_deliver [--once] [--poll SECONDS]``: push the verification and
stream-updated SETs (and retry failed ones), announce streams whose endpoint the webhooks
worker disabled (410 Gone), delete old stream SETs and forget old deleted accounts' subjects.
One pass never crashes on a row: a failure is recorded on it.

The SETs of outbox events are the webhooks worker's (``manage.py events_worker``)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ssf.services.control import control_events_deliver_due, control_events_prune
from ssf.services.streams import streams_endpoint_disabled_announce
from ssf.services.subjects import deleted_subjects_prune


class Command(BaseCommand):
    help = "Push the Shared Signals streams' own SETs (verification, stream-updated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--poll", type=float, default=10.0, help="Seconds between passes.")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            streams_endpoint_disabled_announce()
            delivered, failed = control_events_deliver_due()
            pruned = deleted_subjects_prune() + control_events_prune()
            if delivered or failed or pruned or options["once"]:
                self.stdout.write(f"delivered {delivered}, failed {failed}, pruned {pruned}")
            if options["once"]:
                return
            time.sleep(max(options["poll"], 0.5))
