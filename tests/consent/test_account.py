"""The account page of consents: see, withdraw, give, remove an application, download a
receipt (consent/views.py ``account`` and ``receipt``)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from jwcrypto import jwk, jws

from ciam.keys import keyring
from consent.models import Consent, ConsentAction, ConsentRecord
from consent.selectors import consent_state
from consent.services.grants import consent_grant
from consent.services.ledger import purposes_decide
from tests.factories import UserFactory, make_client

from .purposes_helpers import make_purpose

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    return user, client


def granted(user, purpose):
    version = purpose.current_version()
    return purposes_decide(
        user=user, application=None, granted=[version], declined=[], channel="signup"
    )[0]


def test_page_lists_purposes_and_decisions_in_both_languages(signed_in):
    user, client = signed_in
    terms = make_purpose("terms", required_everywhere=True)
    make_purpose("offers")
    granted(user, terms)
    page = client.get("/account/consents/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "terms terms v1" in text
    assert "Agreed" in text
    assert "Not agreed" in text
    assert "Download" in text
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    assert "Termos terms v1" in client.get("/account/consents/").content.decode()


def test_signed_out_browser_is_sent_to_sign_in():
    response = Client().get("/account/consents/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_withdraw_is_one_click_and_recorded_from_the_portal(signed_in):
    """Withdrawing is as easy as giving: one POST, a withdrawn record, channel portal."""
    user, client = signed_in
    offers = make_purpose("offers")
    granted(user, offers)
    response = client.post("/account/consents/", {"action": "withdraw", "purpose": "offers"})
    assert response.status_code == 302
    assert consent_state(user=user)["offers"].granted is False
    record = ConsentRecord.objects.filter(user=user).order_by("-sequence").first()
    assert record.action == ConsentAction.WITHDRAWN
    assert record.channel == "portal"
    client.post("/account/consents/", {"action": "grant", "purpose": "offers"})
    assert consent_state(user=user)["offers"].granted is True


@pytest.mark.parametrize(
    "data",
    [
        {"action": "withdraw", "purpose": "no-such-purpose"},
        {"action": "grant", "purpose": "x" * 5000},
        {"action": "explode"},
        {},
        {"action": "remove_app", "client_id": "nobody"},
    ],
)
def test_bad_changes_get_a_message_and_record_nothing(signed_in, data):
    user, client = signed_in
    make_purpose("offers")
    response = client.post("/account/consents/", data, follow=True)
    assert response.status_code == 200
    assert not ConsentRecord.objects.filter(user=user).exists()
    assert b"alert--error" in response.content


def test_removing_an_application_revokes_its_grant(signed_in):
    user, client = signed_in
    registered = make_client("web", name="Partner Shop", redirect_uris=["https://p.test/cb"])
    from oauth2_provider.models import get_application_model

    application = get_application_model().objects.get(client_id=registered.client_id)
    consent_grant(user=user, application=application, scopes=["openid"], claims=[])
    assert "Partner Shop" in client.get("/account/consents/").content.decode()
    response = client.post(
        "/account/consents/",
        {"action": "remove_app", "client_id": registered.client_id},
        follow=True,
    )
    assert "Partner Shop no longer has access" in response.content.decode()
    assert registered.client_id not in response.content.decode()
    assert Consent.objects.get(user=user, application=application).revoked_at is not None


def test_receipt_downloads_and_verifies_against_the_published_keys(signed_in):
    """The receipt is a JWS signed with a key of /jwks, about this very record."""
    user, client = signed_in
    record = granted(user, make_purpose("terms", required_everywhere=True))
    response = client.get(f"/account/consents/receipts/{record.receipt_id}.jwt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwt"
    assert "attachment" in response["Content-Disposition"]
    keys = jwk.JWKSet.from_json(keyring().jwks_json)
    token = jws.JWS()
    token.deserialize(response.content.decode())
    key = keys.get_key(token.jose_header["kid"])
    token.verify(key)
    claims = json.loads(token.payload)
    assert str(record.receipt_id) in json.dumps(claims)


def test_receipt_of_someone_else_or_malformed_is_not_found(signed_in):
    _user, client = signed_in
    other = UserFactory()
    record = granted(other, make_purpose("terms", required_everywhere=True))
    assert client.get(f"/account/consents/receipts/{record.receipt_id}.jwt").status_code == 404
    assert client.get("/account/consents/receipts/not-a-uuid.jwt").status_code == 404
