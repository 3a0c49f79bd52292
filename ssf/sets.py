"""Security Event Tokens (RFC 8417) as SSF 1.0 4 profiles them: signed, explicitly typed.

Every SET is a JWS signed with the provider's active RS256 key (the CAEP interoperability
profile asks for RS256 with 2048-bit keys; the ``kid`` names the key published at
``jwks_uri``), header ``typ: secevent+jwt`` (RFC 8417 2.3, SSF 1.0 4.1.1), and carries
``iss``, ``jti``, ``iat``, ``aud``, ``sub_id`` (RFC 9493) and one event in ``events``; never
``sub`` nor ``exp`` (SSF 1.0 4.1.2, 4.1.6).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from jwcrypto import jwt

from ciam.keys import active_signing_key

from .selectors import ssf_issuer

SET_ALGORITHM = "RS256"
SET_TYPE = "secevent+jwt"
SET_MEDIA_TYPE = "application/secevent+jwt"
# jti of the SET that carries one outbox event to one stream: the same on every retry and
# replay, so that receivers drop duplicates (RFC 8935 2.3 and at-least-once delivery).
_JTI_NAMESPACE = uuid.UUID("8f3f5c2e-3f1d-4b7e-9a51-5d0c7c9a1e42")


def set_jti_for(*, event_id: Any, stream_id: str) -> str:
    return uuid.uuid5(_JTI_NAMESPACE, f"{event_id}/{stream_id}").hex


def iss_sub(subject: str) -> dict[str, str]:
    """RFC 9493 3.2.5 Issuer and Subject Identifier."""
    return {"format": "iss_sub", "iss": ssf_issuer(), "sub": subject}


def set_claims(
    *,
    aud: str,
    sub_id: dict[str, Any],
    event_type: str,
    event: dict[str, Any],
    jti: str,
    txn: str | None = None,
) -> dict[str, Any]:
    """The claims of one SET (RFC 8417 2.2; SSF 1.0 4.1 and 4.2: one event per SET)."""
    claims: dict[str, Any] = {
        "iss": ssf_issuer(),
        "jti": jti,
        "iat": int(time.time()),
        "aud": aud,
        "sub_id": sub_id,
        "events": {event_type: event},
    }
    if txn:
        claims["txn"] = txn  # SSF 1.0 4.1.7: the underlying event, shared across streams
    return claims


def set_sign(claims: dict[str, Any]) -> str:
    """``claims`` as a compact JWS, signed with the active RS256 key."""
    key = active_signing_key(SET_ALGORITHM)
    header = {"alg": key.algorithm, "kid": key.kid, "typ": SET_TYPE}
    token = jwt.JWT(header=header, claims=json.dumps(claims, separators=(",", ":")))
    token.make_signed_token(key.jwk)
    return str(token.serialize())
