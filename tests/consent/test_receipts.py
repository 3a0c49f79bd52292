"""Consent receipts: Kantara CR 1.1 / ISO/IEC TS 27560 claims, signed and verifiable."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from jwcrypto import jwk, jws, jwt

from consent.models import ConsentAction, ConsentChannel, PurposeKind
from consent.receipts import receipt_claims, receipt_jws
from consent.services.ledger import consent_record

from .test_purposes import application, make_purpose  # noqa: F401


@pytest.fixture
def record(user, application):  # noqa: F811
    purpose = make_purpose(
        "partners",
        kind=PurposeKind.PARTNER_SHARING,
        data_categories=["email", "phone_number"],
    )
    return consent_record(
        user=user,
        version=purpose.current_version(),
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.SIGNUP,
        application=application,
        ip_address="203.0.113.7",
        language="pt-br",
    )


def test_claims_follow_the_consent_receipt_fields(record, user, settings):
    """The receipt names jurisdiction, controller, principal (the pseudonymous subject, not
    the email), the purpose and its words' hash, and the ledger record it proves."""
    settings.CIAM_BRAND_NAME = "Acme"
    settings.CIAM_CONSENT_CONTROLLER_CONTACT = "dpo@acme.example"
    claims = receipt_claims(record)
    assert claims["version"] == "KI-CR-v1.1.0"
    assert claims["jurisdiction"] == "BR"
    assert claims["consentTimestamp"] == int(record.at.timestamp())
    assert claims["collectionMethod"] == "signup"
    assert claims["consentReceiptID"] == str(record.receipt_id)
    assert claims["language"] == "pt-br"
    assert claims["piiPrincipalId"] == record.subject
    assert user.email not in json.dumps(claims)
    assert claims["piiControllers"][0]["piiController"] == "Acme"
    assert claims["piiControllers"][0]["contact"] == "dpo@acme.example"
    assert claims["policyUrl"] == "https://example.com/policy"
    [service] = claims["services"]
    assert service["service"] == "Partner Shop"
    [purpose] = service["purposes"]
    assert purpose["purposeKey"] == "partners"
    assert purpose["purpose"] == "partners v1 (pt)"
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["purposeCategory"] == ["partner_sharing"]
    assert purpose["piiCategory"] == ["email", "phone_number"]
    assert purpose["thirdPartyDisclosure"] is True
    assert purpose["primaryPurpose"] is False
    assert purpose["termination"]
    assert claims["sensitive"] is False
    assert claims["action"] == "granted"
    assert claims["textSha256"] == record.text_sha256
    assert claims["recordHash"] == record.hash
    assert claims["kid"] == claims["publicKey"]["kid"]
    assert "d" not in claims["publicKey"]


def test_jurisdiction_and_contact_defaults(record, settings):
    """Jurisdiction follows CIAM_CONSENT_JURISDICTION (default BR); the contact defaults to
    DEFAULT_FROM_EMAIL."""
    settings.DEFAULT_FROM_EMAIL = "privacy@example.com"
    assert receipt_claims(record)["piiControllers"][0]["contact"] == "privacy@example.com"
    settings.CIAM_CONSENT_JURISDICTION = "EU"
    assert receipt_claims(record)["jurisdiction"] == "EU"


def test_receipt_verifies_against_the_published_jwks(record, issuer):
    """The receipt is a compact ES256 JWS whose kid is in /jwks; it verifies there and
    carries the receipt's claims."""
    token = receipt_jws(record)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "ES256"
    assert header["typ"] == "JWT"
    keys = jwk.JWKSet.from_json(requests.get(issuer + "/jwks", timeout=10).text)
    assert keys.get_key(header["kid"]) is not None
    verified = jwt.JWT(jwt=token, key=keys, expected_type="JWS")
    claims = json.loads(verified.claims)
    assert claims["consentReceiptID"] == str(record.receipt_id)
    assert claims["recordHash"] == record.hash


def test_tampered_receipt_does_not_verify(record, issuer):
    """Changing the payload (withdrawn for granted) breaks the signature."""
    header, payload, signature = receipt_jws(record).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["action"] = "withdrawn"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    keys = jwk.JWKSet.from_json(requests.get(issuer + "/jwks", timeout=10).text)
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    with pytest.raises(jws.InvalidJWSSignature):
        jwt.JWT(jwt=f"{header}.{forged}.{signature}", key=keys.get_key(kid))
    with pytest.raises(jwt.JWTMissingKey):  # no published key verifies it either
        jwt.JWT(jwt=f"{header}.{forged}.{signature}", key=keys, expected_type="JWS")
