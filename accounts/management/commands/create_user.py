from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services.users import user_create


class Command(BaseCommand):
    help = "Create a user with a verified email address (seeding, support)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="Omit to be asked (or with --no-password).")
        parser.add_argument(
            "--no-password",
            action="store_true",
            help="No password: the user signs in with an emailed code or resets it.",
        )
        parser.add_argument("--given-name", default="")
        parser.add_argument("--family-name", default="")
        parser.add_argument("--unverified", action="store_true")
        parser.add_argument("--staff", action="store_true", help="Can sign in to the admin.")
        parser.add_argument("--superuser", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if get_user_model().objects.filter(email__iexact=options["email"]).exists():
            raise CommandError("A user with this email address exists already.")
        password = options["password"]
        if password is None and not options["no_password"]:
            password = getpass.getpass("Password: ")
        try:
            user = user_create(
                email=options["email"],
                password=password or None,
                email_verified=not options["unverified"],
                given_name=options["given_name"],
                family_name=options["family_name"],
                is_staff=options["staff"] or options["superuser"],
                is_superuser=options["superuser"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(f"Created user {user.email} (id {user.pk})")
