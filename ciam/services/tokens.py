"""The token endpoint's work (RFC 6749 3.2), one transaction per redemption."""

from __future__ import annotations

from django.db import router, transaction
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from ..oauth.rotation import AuthorizationCodeRaced, RefreshTokenRaced
from ..oauth.validator import replayed_code_tokens_revoke
from .authorization import oauth_server


def token_response(
    *, uri: str, body: str, headers: dict[str, str], grant_type: str
) -> tuple[dict[str, str], str, int]:
    """oauthlib's (headers, body, status) for a token request already parsed strictly.

    Redeeming a code or a refresh token reads and writes several rows (the ID token, the
    old refresh token, the new pair): all of it commits once, or not at all. A
    client_credentials token is a single INSERT and needs no transaction around it.
    """
    server = oauth_server()
    if grant_type == "client_credentials":
        return server.create_token_response(uri, "POST", body, headers, None)
    try:
        with transaction.atomic(using=router.db_for_write(get_access_token_model())):
            return server.create_token_response(uri, "POST", body, headers, None)
    except RefreshTokenRaced as raced:
        # The transaction is rolled back; the family is revoked outside it, so that stays.
        get_refresh_token_model().revoke_family(raced.token_family)
        return dict(raced.headers), raced.json, raced.status_code
    except AuthorizationCodeRaced as raced:
        # This request's tokens are rolled back; the winner's are revoked: the code was
        # presented twice.
        replayed_code_tokens_revoke(raced.code, raced.client)
        return dict(raced.headers), raced.json, raced.status_code
