"""Token values and the digests they are stored and looked up by."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any


def generate_token(request: Any = None) -> str:
    """Access and refresh tokens (``ACCESS_TOKEN_GENERATOR``, ``REFRESH_TOKEN_GENERATOR``).

    256 random bits as base64url (43 characters), one read of the system's CSPRNG
    (oauthlib's default draws 30 characters with a system call each). RFC 6749 10.10: the
    probability of guessing a token must be at most 2^-128; RFC 6750 5.2 asks for the same.
    """
    return secrets.token_urlsafe(32)


def generate_access_token(request: Any = None) -> str:
    """Access tokens (``ACCESS_TOKEN_GENERATOR``): an RFC 9068 JWT for a client that opted
    in (ciam/oauth/jwt_access.py), else ``generate_token``'s random string."""
    from .jwt_access import jwt_access_token_issue, uses_jwt  # imports the models

    client = getattr(request, "client", None)
    if not uses_jwt(client):
        return generate_token(request)
    from oauth2_provider.settings import oauth2_settings

    from ..subjects import subject_for

    user = getattr(request, "user", None)
    return jwt_access_token_issue(
        client=client,
        scope=" ".join(getattr(request, "scopes", None) or []),
        subject=subject_for(user, client) if user is not None else None,
        expires_in=getattr(request, "expires_in", None)
        or oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS,
    )


def token_checksum(token: str) -> str:
    """The SHA-256 hex digest DOT stores as ``token_checksum`` and looks tokens up by."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def code_hash(code: str) -> str:
    """The SHA-256 hex digest an authorization code's ``AuthorizationContext`` is kept under
    (the code itself is DOT's ``Grant``, deleted on redemption; the hash outlives it so that
    a replayed code is recognised, RFC 6749 4.1.2)."""
    return hashlib.sha256(code.encode()).hexdigest()
