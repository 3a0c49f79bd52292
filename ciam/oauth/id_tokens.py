"""Signing and verifying the ID tokens this provider issues (OIDC Core 2 and 3.1.3.7).

Keys come from the rotating keyring of ciam/keys.py: a token is signed with the active key of
its client's algorithm (RS256 or ES256) and verified with whichever published key its ``kid``
names.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from jwcrypto import jws, jwt
from jwcrypto.common import JWException
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings

from ..keys import active_signing_key, keyring

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from jwcrypto.jwk import JWK

# OIDC Core 3.1.3.7: the RP checks alg; we only ever sign with these (never none, never HMAC).
VERIFIED_ALGORITHMS = ("RS256", "ES256")
# An ID token is a few hundred bytes; a hint larger than this is not one of ours.
MAX_ID_TOKEN_LENGTH = 16384


def id_token_algorithm(client: AbstractApplication) -> str:
    """The ``alg`` of ``client``'s ID tokens (OIDC Dynamic Client Registration 2:
    ``id_token_signed_response_alg`` defaults to RS256)."""
    return str(client.algorithm or AbstractApplication.RS256_ALGORITHM)


def signing_jwk_for(client: AbstractApplication) -> JWK:
    """The private key that signs ``client``'s ID tokens now (what DOT calls the
    application's ``jwk_key``)."""
    return active_signing_key(id_token_algorithm(client)).jwk


def sign_id_token(claims: dict[str, Any], *, algorithm: str) -> str:
    """``claims`` as a compact JWS signed with the active key for ``algorithm``; the
    header names the key (``kid``) so that verifiers pick it from JWKS (OIDC Core 10.1)."""
    key = active_signing_key(algorithm)
    header = {"typ": "JWT", "alg": key.algorithm, "kid": key.kid}
    signed = jwt.JWT(header=header, claims=json.dumps(claims, default=str))
    signed.make_signed_token(key.jwk)
    return str(signed.serialize())


def verify_id_token(token: Any, *, require_unexpired: bool = False) -> dict[str, Any] | None:
    """Claims of an ID token this provider signed (any published key), else None.

    Only RS256 and ES256 are accepted: ``none`` and HMAC tokens never verify. Expired
    tokens verify unless ``require_unexpired`` (OIDC RP-Initiated Logout 2 accepts them as
    id_token_hint).
    """
    if not isinstance(token, str) or len(token) > MAX_ID_TOKEN_LENGTH:
        return None
    try:
        parsed = jws.JWS()
        parsed.deserialize(token)
        header = parsed.jose_header
    except (JWException, ValueError, TypeError):
        return None
    if not isinstance(header, dict) or header.get("alg") not in VERIFIED_ALGORITHMS:
        return None
    key = keyring().by_kid(str(header.get("kid", "")))
    if key is None:
        # A key published since this process last read the keyring (ciam/keys.py).
        key = keyring(refresh=True).by_kid(str(header.get("kid", "")))
    if key is None or key.algorithm != header.get("alg"):
        return None
    try:
        verified = jwt.JWT(
            jwt=token,
            key=key.jwk,
            algs=[key.algorithm],
            check_claims=None if require_unexpired else False,
            expected_type="JWS",
        )
        claims = json.loads(verified.claims)
    except (JWException, ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != oauth2_settings.OIDC_ISS_ENDPOINT:
        return None
    return claims


def user_for_sub(sub: Any) -> AbstractBaseUser | None:
    """The active user an ID token's ``sub`` names (ours are the user's primary key,
    OIDC Core 8: public subject identifiers), else None."""
    if not isinstance(sub, str) or not sub.isdigit():
        return None
    return get_user_model().objects.filter(pk=int(sub), is_active=True).first()
