from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ciam.keys import reload_seconds, signing_key_rotate


class Command(BaseCommand):
    help = (
        "Add a new ID-token signing key. It is published at once and signs after "
        f"{2 * reload_seconds():g} s; the old key stays published until its tokens have expired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--algorithm", choices=["RS256", "ES256"], default="RS256")
        parser.add_argument(
            "--now",
            action="store_true",
            help="Sign with the new key at once (single-process installs).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key = signing_key_rotate(algorithm=options["algorithm"], immediately=options["now"])
        self.stdout.write(
            f"New {key.algorithm} key {key.kid}, signing from {key.active_from.isoformat()}"
        )
