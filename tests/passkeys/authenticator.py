"""A software WebAuthn authenticator and client for tests (ES256, "none" attestation).

It builds exactly what a browser posts: the JSON forms of PublicKeyCredential (WebAuthn L3
5.1.8, 5.1.9), with authenticator data laid out as in 6.1 and CBOR from py_webauthn's
helpers. Knobs let tests produce what a broken or hostile client would send.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, encode_cbor

FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_BE = 0x08  # backup eligible
FLAG_BS = 0x10  # backed up
FLAG_AT = 0x40  # attested credential data included

AAGUID = bytes.fromhex("0123456789abcdef0123456789abcdef")


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftAuthenticator:
    rp_id: str
    origin: str
    backed_up: bool = False
    user_verified: bool = True
    counter_step: int = 1  # 0: a counter that stays 0 (as synced passkeys do)
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    sign_count: int = 0
    user_handle: bytes = b""

    # --- pieces --------------------------------------------------------------------------

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        # RFC 9053 7.1.1 / RFC 9052 7: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
        return encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _flags(self, *, attested: bool) -> int:
        flags = FLAG_UP
        if self.user_verified:
            flags |= FLAG_UV
        if self.backed_up:
            flags |= FLAG_BE | FLAG_BS
        if attested:
            flags |= FLAG_AT
        return flags

    def authenticator_data(self, *, attested: bool, rp_id: str | None = None) -> bytes:
        data = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        data += bytes([self._flags(attested=attested)])
        data += struct.pack(">I", self.sign_count)
        if attested:
            data += AAGUID
            data += struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self.cose_public_key()
        return data

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    # --- navigator.credentials.create / get ------------------------------------------------

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        """The registration response to creation options (their JSON form)."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        client_data = self.client_data(
            "webauthn.create", options["challenge"], origin or self.origin
        )
        attestation = encode_cbor(
            {"fmt": "none", "attStmt": {}, "authData": self.authenticator_data(attested=True)}
        )
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
        rp_id: str | None = None,
    ) -> dict[str, Any]:
        """The assertion for request options (their JSON form), signed with the key."""
        self.sign_count = self.sign_count + self.counter_step if sign_count is None else sign_count
        auth_data = self.authenticator_data(attested=False, rp_id=rp_id)
        client_data = self.client_data("webauthn.get", options["challenge"], origin or self.origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = self.user_handle if user_handle is None else user_handle
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                "userHandle": b64(handle) if handle else None,
            },
        }


def with_client_data(credential: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``credential`` whose clientDataJSON has ``changes`` (the signature, made
    over the original, no longer matches: the server must refuse before or at that check)."""
    data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
    data.update(changes)
    copy = json.loads(json.dumps(credential))
    copy["response"]["clientDataJSON"] = b64(json.dumps(data).encode())
    return copy
