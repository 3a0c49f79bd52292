"""RP-Initiated Logout 1.0: deciding what a logout request may do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.utils.translation import gettext as _
from oauth2_provider.models import get_application_model

from ..oauth.id_tokens import id_token_names_user, verify_id_token


class LogoutRejected(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class LogoutDecision:
    redirect_url: str  # "" when the logged-out page is shown instead
    needs_confirmation: bool
    client_name: str = ""


def _with_state(uri: str, state: str) -> str:
    if not state:
        return uri
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("state", state)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def logout_request_validate(*, params: dict[str, str], user: Any = None) -> LogoutDecision:
    """Validate id_token_hint, client_id and post_logout_redirect_uri.

    - A valid hint (our signature, RS256/ES256; expired is fine) and a registered
      post_logout_redirect_uri (exact match) for the hint's client: sign out, redirect.
    - A hint that does not verify (foreign key, alg none, garbage): rejected, no redirect.
    - A redirect without a hint: the user confirms first, and is redirected only when
      client_id names the client that registered it.
    - Nothing, or only state: the user confirms, then sees the logged-out page.
    - A valid hint about someone other than the signed-in ``user``: the user confirms
      (RP-Initiated Logout 1.0 section 2: the OP asks when the hint does not name the
      End-User who is logged in).
    """
    hint = params.get("id_token_hint", "")
    client_id = params.get("client_id", "")
    redirect_uri = params.get("post_logout_redirect_uri", "")
    state = params.get("state", "")
    Application = get_application_model()

    application = None
    hint_trusted = False
    if hint:
        claims = verify_id_token(hint)
        if claims is None:
            raise LogoutRejected(_("The sign-out request carries an ID token we did not issue."))
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if client_id and client_id not in audiences:
            raise LogoutRejected(_("The sign-out request names another application."))
        application = Application.objects.filter(client_id__in=audiences[:5]).first()
        signed_in = user is not None and getattr(user, "is_authenticated", False)
        hint_trusted = not signed_in or id_token_names_user(claims, user)
    elif client_id:
        application = (
            # No client_id is longer than 100 characters or holds a NUL byte: such a value
            # names no client (a cut-off prefix must not name a real one).
            None
            if "\x00" in client_id or len(client_id) > 100
            else Application.objects.filter(client_id=client_id).first()
        )
        if application is None:
            raise LogoutRejected(_("The sign-out request names an unknown application."))

    if not redirect_uri:
        # Without a valid hint the request may come from anywhere (an <img> on another
        # site): the user confirms (RP-Initiated Logout 1.0 section 2).
        return LogoutDecision(redirect_url="", needs_confirmation=not hint_trusted)
    if application is None:
        raise LogoutRejected(
            _("The sign-out request asks for a redirect without naming the application.")
        )
    if redirect_uri not in application.post_logout_redirect_uris.split():
        raise LogoutRejected(_("The address to return to after sign-out is not registered."))
    url = _with_state(redirect_uri, state)
    return LogoutDecision(
        redirect_url=url,
        needs_confirmation=not hint_trusted,
        client_name=application.name or application.client_id,
    )
