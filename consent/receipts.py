"""Consent receipts: a signed statement of one ledger record the user can keep.

The claims follow the Kantara Initiative Consent Receipt Specification 1.1 (the basis of
ISO/IEC TS 27560): version, jurisdiction, consentTimestamp, collectionMethod,
consentReceiptID, publicKey, language, piiPrincipalId, piiControllers, policyUrl, services
with their purposes, sensitive and spiCat, plus this provider's record fields (action,
textSha256, recordHash...) that tie the receipt to its place in the hash chain. The receipt
is a JWT (as Kantara CR 1.1 delivers it): a compact JWS signed with the provider's active
ES256 key, verifiable against /jwks.
"""

from __future__ import annotations

import json
import time
from typing import Any

from jwcrypto import jws
from jwcrypto.common import json_encode
from oauth2_provider.models import get_application_model

from ciam.app_settings import app_settings as ciam_settings
from ciam.keys import active_signing_key

from .app_settings import app_settings
from .models import ConsentRecord, PurposeKind

RECEIPT_VERSION = "KI-CR-v1.1.0"
RECEIPT_ALGORITHM = "ES256"
RECEIPT_TYPE = "JWT"
TERMINATION = "Until withdrawn by the PII principal, or a material change of the purpose."


def _service_name(record: ConsentRecord) -> str:
    """The client the decision was made for (its id when it was deleted since), else the
    provider itself (the account portal, sign-up without a client)."""
    if record.application_id is None:
        return ciam_settings.BRAND_NAME
    name = (
        get_application_model()
        .objects.filter(pk=record.application_id)
        .values_list("name", flat=True)
        .first()
    )
    return str(name or record.client_id)


def receipt_claims(record: ConsentRecord) -> dict[str, Any]:
    """The Kantara Consent Receipt 1.1 / ISO/IEC TS 27560 claims of ``record``.

    The principal is the ledger's pseudonymous subject (an HMAC of the user id), never the
    email address, so a receipt stays meaningful after erasure and identifies nobody.
    """
    purpose, version = record.purpose, record.version
    key = active_signing_key(RECEIPT_ALGORITHM)
    public_key = key.jwk.export_public(as_dict=True)
    public_key.update({"kid": key.kid, "alg": key.algorithm, "use": "sig"})
    contact = app_settings.CONTROLLER_CONTACT
    return {
        "iss": ciam_settings.ISSUER,
        "iat": int(time.time()),
        "jti": str(record.receipt_id),
        "version": RECEIPT_VERSION,
        "jurisdiction": app_settings.JURISDICTION,
        "consentTimestamp": int(record.at.timestamp()),
        "collectionMethod": record.channel,
        "consentReceiptID": str(record.receipt_id),
        "publicKey": public_key,
        "kid": key.kid,
        "language": record.language,
        "piiPrincipalId": record.subject,
        "piiControllers": [
            {
                "piiController": ciam_settings.BRAND_NAME,
                "contact": contact,
                "email": contact,
                "piiControllerUrl": ciam_settings.ISSUER,
                "onBehalf": False,
            }
        ],
        "policyUrl": version.policy_url,
        "services": [
            {
                "service": _service_name(record),
                "clientId": record.client_id,
                "purposes": [
                    {
                        "purposeKey": purpose.key,
                        "purpose": version.title_for(record.language),
                        "purposeVersion": version.number,
                        "consentType": "EXPLICIT",
                        "purposeCategory": [purpose.kind],
                        "piiCategory": list(purpose.data_categories),
                        "legalBasis": purpose.legal_basis,
                        "primaryPurpose": purpose.required,
                        "termination": TERMINATION,
                        "thirdPartyDisclosure": purpose.kind == PurposeKind.PARTNER_SHARING,
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        "action": record.action,
        "textSha256": record.text_sha256,
        "recordId": str(record.id),
        "recordSequence": record.sequence,
        "recordHash": record.hash,
        "previousHash": record.previous_hash,
    }


def receipt_jws(record: ConsentRecord) -> str:
    """``record``'s receipt as a compact JWS signed with the active ES256 key (header kid)."""
    key = active_signing_key(RECEIPT_ALGORITHM)
    claims = receipt_claims(record)
    token = jws.JWS(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    token.add_signature(
        key.jwk,
        alg=RECEIPT_ALGORITHM,
        protected=json_encode({"alg": RECEIPT_ALGORITHM, "kid": key.kid, "typ": RECEIPT_TYPE}),
    )
    return str(token.serialize(compact=True))
