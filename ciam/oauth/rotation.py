"""The statements of a refresh-token rotation (RFC 9700 4.14.2), and the error when two
requests race for one refresh token."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connections, router
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


class RefreshTokenRaced(InvalidGrantError):
    """Two requests redeemed the same refresh token at once; this one lost.

    Raised inside the token request's transaction (which is rolled back); the caller then
    revokes ``token_family``: a refresh token presented twice is treated as stolen, as DOT's
    reuse protection treats a revoked one (RFC 9700 4.14.2).
    """

    description = "The refresh token was used already."

    def __init__(self, token_family: UUID | None, request: Any) -> None:
        super().__init__(request=request)
        self.token_family = token_family


class AuthorizationCodeRaced(InvalidGrantError):
    """Two requests redeemed the same authorization code at once; this one lost: its DELETE
    of the grant found no row left, once the winner had committed.

    Raised inside the token request's transaction (which is rolled back, so none of this
    request's tokens remain); the caller then revokes what the winner was issued (RFC 6749
    4.1.2: a code used twice revokes the tokens issued from it).
    """

    description = "The authorization code was used already."

    def __init__(self, code: str, client: Any, request: Any) -> None:
        super().__init__(request=request)
        self.code = code
        self.client = client


def refresh_token_claim(*, pk: Any, now: datetime) -> bool:
    """Revoke the live refresh token ``pk`` and detach its access token, in one conditional
    UPDATE: of concurrent requests, only one can; False for the others."""
    claimed = RefreshToken.objects.filter(pk=pk, revoked__isnull=True).update(
        revoked=now, access_token=None, updated=now
    )
    return bool(claimed)


def access_token_delete(pk: Any) -> None:
    """One DELETE, nothing collected: the only row that pointed at it (the refresh token
    just rotated) no longer does."""
    connection = connections[router.db_for_write(AccessToken)]
    table = connection.ops.quote_name(AccessToken._meta.db_table)
    column = connection.ops.quote_name(AccessToken._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [pk])  # noqa: S608
