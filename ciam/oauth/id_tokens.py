"""Signing and verifying the ID tokens this provider issues (OIDC Core 2 and 3.1.3.7).

Keys come from the rotating keyring of ciam/keys.py: a token is signed with the active key of
its client's algorithm (RS256 or ES256) and verified with whichever published key its ``kid``
names.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from django.contrib.auth import get_user_model
from jwcrypto import jws, jwt
from jwcrypto.common import JWException
from oauth2_provider.models import AbstractApplication, get_application_model
from oauth2_provider.settings import oauth2_settings

from ..keys import active_signing_key, keyring
from ..subjects import SUBJECT_LEGACY, SUBJECT_PAIRWISE, SUBJECT_PUBLIC, subject_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from jwcrypto.jwk import JWK

# OIDC Core 3.1.3.7: the RP checks alg; we only ever sign with these (never none, never HMAC).
VERIFIED_ALGORITHMS = ("RS256", "ES256")
# An ID token is a few hundred bytes; a hint larger than this is not one of ours.
MAX_ID_TOKEN_LENGTH = 16384
# The JOSE ``typ`` of an ID token, when it has one (RFC 7519 5.1; RFC 7515 4.1.9: compared
# without case, the "application/" prefix optional). Other JWTs the same keys sign say what
# they are (a back-channel logout token: "logout+jwt").
ID_TOKEN_TYPES = frozenset({"jwt", "application/jwt"})


def id_token_algorithm(client: AbstractApplication) -> str:
    """The ``alg`` of ``client``'s ID tokens (OIDC Dynamic Client Registration 2:
    ``id_token_signed_response_alg`` defaults to RS256)."""
    return str(client.algorithm or AbstractApplication.RS256_ALGORITHM)


def signing_jwk_for(client: AbstractApplication) -> JWK:
    """The private key that signs ``client``'s ID tokens now (what DOT calls the
    application's ``jwk_key``)."""
    return active_signing_key(id_token_algorithm(client)).jwk


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# The ``cryptography`` private key behind each keyring key, by kid (its JWK thumbprint).
_private_keys: dict[str, Any] = {}


def _signature(algorithm: str, kid: str, jwk_key: JWK, signing_input: bytes) -> bytes:
    """RFC 7518 3.3 (RS256: RSASSA-PKCS1-v1_5 with SHA-256) and 3.4 (ES256: ECDSA P-256
    with SHA-256, the signature as R || S, 32 bytes each)."""
    private_key = _private_keys.get(kid)
    if private_key is None:
        if len(_private_keys) > 32:
            _private_keys.clear()
        private_key = _private_keys[kid] = jwk_key.get_op_key("sign")
    if algorithm == "RS256":
        return bytes(private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))
    if algorithm == "ES256":
        r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise ValueError(f"No signer for {algorithm}")


def sign_jwt(claims: dict[str, Any], *, algorithm: str, typ: str = "JWT") -> str:
    """``claims`` as a compact JWS (RFC 7515 7.1) signed with the active key for
    ``algorithm``; the header names the key (``kid``) so that verifiers pick it from JWKS
    (OIDC Core 10.1). Signed with ``cryptography`` directly: the same bytes jwcrypto would
    sign, without its per-token object copies."""
    key = active_signing_key(algorithm)
    header = {"typ": typ, "alg": key.algorithm, "kid": key.kid}
    signing_input = (
        _b64url(json.dumps(header).encode())
        + b"."
        + _b64url(json.dumps(claims, default=str).encode())
    )
    signature = _signature(key.algorithm, key.kid, key.jwk, signing_input)
    return (signing_input + b"." + _b64url(signature)).decode("ascii")


def sign_id_token(claims: dict[str, Any], *, algorithm: str) -> str:
    """An ID token: ``claims`` signed with the active key for ``algorithm``."""
    return sign_jwt(claims, algorithm=algorithm)


def verify_id_token(token: Any, *, require_unexpired: bool = False) -> dict[str, Any] | None:
    """Claims of an ID token this provider signed (any published key), else None.

    Only RS256 and ES256 are accepted: ``none`` and HMAC tokens never verify. Expired
    tokens verify unless ``require_unexpired`` (OIDC RP-Initiated Logout 2 accepts them as
    id_token_hint). A token of another type signed by the same keys does not: one whose
    header ``typ`` is not JWT, or that carries a logout token's ``events`` claim (OIDC
    Back-Channel Logout 1.0 2.4: a logout token must never be taken for an ID token).
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
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ID_TOKEN_TYPES):
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
    if "events" in claims:
        return None
    # OIDC Core 2: an ID token has sub, aud, exp and iat; other JWTs the same keys sign (a
    # consent receipt) lack some of them.
    if not all(name in claims for name in ("sub", "aud", "exp", "iat")):
        return None
    return claims


def _audience_clients(claims: dict[str, Any]) -> list[AbstractApplication]:
    """The clients an ID token's ``aud`` names (at most five: ours name one)."""
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list):
        return []
    client_ids = [item for item in audiences[:5] if isinstance(item, str) and len(item) <= 100]
    return list(get_application_model().objects.filter(client_id__in=client_ids))


def id_token_names_user(claims: dict[str, Any], user: Any) -> bool:
    """Whether verified ID token ``claims`` are about ``user``: their ``sub`` is the one the
    token's client sees for ``user`` (public, pairwise or legacy, ciam/subjects.py). Used for
    id_token_hint (OIDC Core 3.1.2.1), whose client may differ from the requesting one."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(subject_for(user, client) == sub for client in _audience_clients(claims))


def user_for_sub(sub: Any, *, client: AbstractApplication) -> AbstractBaseUser | None:
    """The active user whose ``sub`` at ``client`` is ``sub``, else None.

    Public subjects are the user's ``public_id``, legacy ones their primary key. Pairwise
    subjects are one-way (OIDC Core 8.1) and this provider keeps no table of them: they
    resolve to None; a caller that knows whom to expect asks ``id_token_names_user``.
    """
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        return None
    users = get_user_model().objects.filter(is_active=True)
    subject_type = getattr(client, "subject_type", SUBJECT_PUBLIC)
    if subject_type == SUBJECT_LEGACY:
        if not sub.isascii() or not sub.isdigit() or len(sub) > 18:
            return None
        return users.filter(pk=int(sub)).first()
    if subject_type == SUBJECT_PAIRWISE:
        return None
    return users.filter(public_id=sub).first()
