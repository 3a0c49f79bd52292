"""Self-contained access tokens (RFC 9068, the JWT profile for OAuth 2.0 access tokens), for
clients that opt in (``Application.access_token_format == "jwt"``).

- **What they are:** a JWS signed with the provider's active ES256 key (ciam/keys.py,
  published in JWKS), header ``typ: at+jwt`` (RFC 9068 2.1), claims ``iss``, ``exp``,
  ``aud``, ``sub``, ``client_id``, ``iat``, ``jti`` and ``scope`` (2.2). ``aud`` is the
  issuer: the provider's own APIs are the resource (no resource indicators are taken).
  ``sub`` is the client for client credentials (2.2) and the user's subject for that client
  (ciam/subjects.py) otherwise. A client credentials token also says ``gty:
  client-credentials`` (as Auth0's do): only such a token is taken without a row.
- **What is stored:** a client credentials token writes nothing: a resource server verifies
  it with JWKS, and the provider itself verifies it the same way (introspection, the
  back-end APIs). A token issued to a user is still stored as DOT's ``AccessToken`` row,
  keyed by its checksum like an opaque one: refresh, revocation, UserInfo and the
  account's session list keep working on it unchanged.
- **Revocation stays authoritative** for the provider: revoking a stored-less token
  (``/revoke``) writes its ``jti`` to ``RevokedAccessToken``; every verification by the
  provider reads that table (one primary-key lookup in a table that only holds revoked,
  unexpired tokens), in the same database the revocation committed to, so a revoked token
  is refused from the next request on, on every node. A resource server that verifies
  offline cannot see a revocation: it introspects when it must know, and the token's
  lifetime (``ACCESS_TOKEN_EXPIRE_SECONDS``) bounds the rest. A client that is deleted or
  switched back to opaque tokens has its tokens refused within the client cache's
  ``APPLICATION_CACHE_SECONDS``.
- An ID token never verifies as an access token (its ``typ`` is ``JWT``) and an access
  token never as an ID token or an ID token hint (``verify_id_token`` takes ``JWT`` only).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.utils import timezone
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings

from ..keys import keyring
from ..models import AccessTokenFormat, RevokedAccessToken
from .client_cache import application_cached
from .id_tokens import sign_jwt

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a password
ALGORITHM = "ES256"
CLIENT_CREDENTIALS_GTY = "client-credentials"
# A JWT access token is a few hundred bytes; anything much larger is not one of ours.
MAX_LENGTH = 8192

# The ``cryptography`` public key of each keyring key, by kid.
_public_keys: dict[str, Any] = {}


def uses_jwt(client: AbstractApplication | None) -> bool:
    """Whether ``client``'s access tokens are RFC 9068 JWTs."""
    return getattr(client, "access_token_format", "") == AccessTokenFormat.JWT


def looks_like_jwt(token: str) -> bool:
    """A compact JWS (three base64url parts): opaque tokens have no dots."""
    return token.count(".") == 2 and token.startswith("eyJ") and len(token) <= MAX_LENGTH


def jwt_access_token_issue(
    *,
    client: AbstractApplication,
    scope: str,
    subject: str | None,
    expires_in: int,
    now: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A signed access token for ``client``; ``subject`` None: the client's own (a client
    credentials token)."""
    issued = int((now or timezone.now()).timestamp())
    claims: dict[str, Any] = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "exp": issued + int(expires_in),
        "aud": oauth2_settings.OIDC_ISS_ENDPOINT,
        "sub": subject if subject is not None else client.client_id,
        "client_id": client.client_id,
        "iat": issued,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
        **(extra or {}),
    }
    if subject is None:
        claims["gty"] = CLIENT_CREDENTIALS_GTY
    return sign_jwt(claims, algorithm=ALGORITHM, typ=ACCESS_TOKEN_TYPE)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _public_key(kid: str) -> Any | None:
    key = _public_keys.get(kid)
    if key is not None:
        return key
    loaded = keyring().by_kid(kid) or keyring(refresh=True).by_kid(kid)
    if loaded is None or loaded.algorithm != ALGORITHM:
        return None
    if len(_public_keys) > 32:
        _public_keys.clear()
    key = _public_keys[kid] = loaded.jwk.get_op_key("verify")
    return key


def _verified_claims(token: str) -> dict[str, Any] | None:
    """The claims of a token our ES256 keys signed with ``typ: at+jwt``, else None."""
    if not looks_like_jwt(token):
        return None
    header_part, payload_part, signature_part = token.split(".")
    try:
        header = json.loads(_b64decode(header_part))
        signature = _b64decode(signature_part)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if (
        not isinstance(header, dict)
        or header.get("alg") != ALGORITHM
        or not isinstance(header.get("typ"), str)
        or header["typ"].lower() not in (ACCESS_TOKEN_TYPE, "application/" + ACCESS_TOKEN_TYPE)
        or not isinstance(header.get("kid"), str)
        or len(signature) != 64
    ):
        return None
    public_key = _public_key(header["kid"])
    if public_key is None:
        return None
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(
            der, f"{header_part}.{payload_part}".encode("ascii"), ec.ECDSA(hashes.SHA256())
        )
        claims = json.loads(_b64decode(payload_part))
    except (InvalidSignature, binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def jwt_access_token_claims(token: str) -> dict[str, Any] | None:
    """The claims of a live client-credentials JWT access token (our signature and
    issuer, unexpired, not revoked, of a client that still issues JWTs), else None.

    Only tokens without a row: a token issued to a user is looked up by its row."""
    claims = _verified_claims(token)
    if claims is None or claims.get("iss") != oauth2_settings.OIDC_ISS_ENDPOINT:
        return None
    exp, jti, client_id = claims.get("exp"), claims.get("jti"), claims.get("client_id")
    if not isinstance(exp, int) or exp <= timezone.now().timestamp():
        return None
    if not isinstance(jti, str) or not isinstance(client_id, str) or len(client_id) > 100:
        return None
    if claims.get("gty") != CLIENT_CREDENTIALS_GTY or claims.get("sub") != client_id:
        return None  # a user's token: only its row speaks for it
    client = application_cached(client_id)
    if client is None or not uses_jwt(client):
        return None
    if RevokedAccessToken.objects.filter(jti=jti).exists():
        return None
    claims["ciam_client"] = client
    return claims


def jwt_access_token_revoke(*, token: str, client: AbstractApplication) -> bool:
    """Revoke a client-credentials JWT access token of ``client`` (RFC 7009: only the
    caller's own); True when it was one."""
    claims = jwt_access_token_claims(token)
    if claims is None or claims["client_id"] != client.client_id:
        return False
    RevokedAccessToken.objects.get_or_create(
        jti=claims["jti"],
        defaults={"expires": datetime.fromtimestamp(claims["exp"], tz=UTC)},
    )
    return True
