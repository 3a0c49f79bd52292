from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from oauth2_provider.models import get_application_model

from accounts.services.users import user_create
from ciam.app_settings import app_settings
from ciam.keys import signing_keys_ensure
from ciam.services.clients import client_register

DEMO_CLIENT_ID = "demo-web"
DEMO_CLIENT_SECRET = "demo-web-secret-change-me-0123456789abcdef"  # noqa: S105 - local demo only
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-1234"  # noqa: S105 - local demo only


class Command(BaseCommand):
    help = "Create the demo client and demo user (idempotent) and print how to try the flow."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--redirect-uri", default=f"{app_settings.ISSUER}/demo/callback")

    def handle(self, *args: Any, **options: Any) -> None:
        signing_keys_ensure()
        issuer = app_settings.ISSUER
        redirect_uri = options["redirect_uri"]
        demo = get_application_model().objects.filter(client_id=DEMO_CLIENT_ID).first()
        if demo is not None:
            # The issuer (host, port) may have changed since the last run.
            demo.redirect_uris = redirect_uri
            demo.post_logout_redirect_uris = f"{issuer}/logged-out"
            demo.save(update_fields=["redirect_uris", "post_logout_redirect_uris"])
        else:
            client_register(
                name="Demo web app",
                kind="web",
                redirect_uris=[redirect_uri],
                post_logout_redirect_uris=[f"{issuer}/logged-out"],
                client_id=DEMO_CLIENT_ID,
                client_secret=DEMO_CLIENT_SECRET,
            )
        if not get_user_model().objects.filter(email=DEMO_EMAIL).exists():
            user_create(
                email=DEMO_EMAIL,
                password=DEMO_PASSWORD,
                given_name="Demo",
                family_name="User",
                validate=False,
            )
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Provider:      {issuer}",
                    f"Discovery:     {issuer}/.well-known/openid-configuration",
                    f"Demo client:   client_id={DEMO_CLIENT_ID}",
                    f"               client_secret={DEMO_CLIENT_SECRET}",
                    f"               redirect_uri={redirect_uri}",
                    f"Demo user:     {DEMO_EMAIL} / {DEMO_PASSWORD}",
                    "",
                    "Try the flow: open this URL in a browser and sign in:",
                    f"  {issuer}/authorize?response_type=code&client_id={DEMO_CLIENT_ID}"
                    f"&scope=openid%20profile%20email&state=demo&redirect_uri={redirect_uri}",
                    "The demo callback page shows the code and the token request to make.",
                    "",
                ]
            )
        )
