from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ciam.services.clients import client_register


class Command(BaseCommand):
    help = (
        "Register a relying party. --type web: confidential web app (secret, PKCE optional); "
        "spa: public browser app (no secret, PKCE S256 required); native: public native app "
        "(loopback or private-use-scheme redirects, PKCE S256 required); "
        "service: machine client (client_credentials). The secret is printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--type", choices=["web", "spa", "native", "service"], default="web")
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            dest="redirect_uris",
            help="Exact redirect URI (repeat for several).",
        )
        parser.add_argument(
            "--post-logout-redirect-uri",
            action="append",
            default=[],
            dest="post_logout_redirect_uris",
        )
        parser.add_argument(
            "--first-party",
            action="store_true",
            help="Your own application: users are not asked for consent.",
        )
        parser.add_argument("--algorithm", choices=["RS256", "ES256"], default="RS256")
        parser.add_argument("--client-id", help="Choose the client_id instead of a random one.")
        parser.add_argument(
            "--client-secret", help="Choose the secret (at least 32 characters) instead."
        )
        parser.add_argument(
            "--subject-type",
            choices=["public", "pairwise", "legacy"],
            help=(
                "The sub the client sees: public (the user's public id, the same for every "
                "client), pairwise (one per sector, OIDC Core 8.1) or legacy (the database "
                "id). Default: CIAM_DEFAULT_SUBJECT_TYPE."
            ),
        )
        parser.add_argument(
            "--sector-identifier",
            default="",
            help=(
                "Pairwise clients: the host name that groups clients sharing pairwise subs; "
                "needed when the redirect URIs are on several hosts."
            ),
        )

        parser.add_argument(
            "--backchannel-logout-uri",
            default="",
            help=(
                "Where logout tokens are POSTed when a user's session ends (OIDC Back-Channel "
                "Logout 1.0): https, or http on localhost while the issuer is http."
            ),
        )
        parser.add_argument(
            "--backchannel-logout-session-required",
            action="store_true",
            help="The client needs sid in logout tokens (they always carry it).",
        )
        parser.add_argument(
            "--frontchannel-logout-uri",
            default="",
            help=(
                "Loaded in a hidden frame after the user signs out (OIDC Front-Channel Logout "
                "1.0): on the scheme, host and port of a redirect URI; https, or http on "
                "localhost while the issuer is http."
            ),
        )
        parser.add_argument(
            "--frontchannel-logout-session-required",
            action="store_true",
            help="Add iss and sid to the front-channel logout URI.",
        )
        parser.add_argument(
            "--session-bound-refresh-tokens",
            choices=["online", "all", "none"],
            default="online",
            help=(
                "Refresh tokens revoked at sign-out: online (those without offline_access, "
                "the default), all, or none."
            ),
        )
        parser.add_argument(
            "--access-token-format",
            choices=["opaque", "jwt"],
            default="opaque",
            help=(
                "opaque (the default) or jwt: RFC 9068 access tokens that resource servers "
                "verify with JWKS; a client credentials token is then stored nowhere."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        secret = options["client_secret"]
        if secret is not None and len(secret) < 32:
            raise CommandError("A client secret must have at least 32 characters.")
        if options["type"] != "service" and not options["redirect_uris"]:
            raise CommandError("Give at least one --redirect-uri.")
        try:
            client = client_register(
                name=options["name"],
                kind=options["type"],
                redirect_uris=options["redirect_uris"],
                post_logout_redirect_uris=options["post_logout_redirect_uris"],
                first_party=options["first_party"],
                algorithm=options["algorithm"],
                client_id=options["client_id"],
                client_secret=secret,
                subject_type=options["subject_type"],
                sector_identifier=options["sector_identifier"],
                backchannel_logout_uri=options["backchannel_logout_uri"],
                backchannel_logout_session_required=options["backchannel_logout_session_required"],
                frontchannel_logout_uri=options["frontchannel_logout_uri"],
                frontchannel_logout_session_required=options[
                    "frontchannel_logout_session_required"
                ],
                session_bound_refresh_tokens=options["session_bound_refresh_tokens"],
                access_token_format=options["access_token_format"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"client_id: {client.client_id}")
        self.stdout.write(f"subject_type: {client.subject_type}")
        if client.client_secret:
            self.stdout.write(f"client_secret: {client.client_secret}")
            self.stdout.write("Keep the secret now: it is stored hashed and not shown again.")
