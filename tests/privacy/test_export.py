"""The copy of a customer's data (accounts/privacy: user_data_export and its pages)."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from accounts.privacy.services import EXPORT_SCHEMA_VERSION, user_data_export
from tests.factories import UserFactory
from tests.mfa.conftest import next_totp_code

from .conftest import furnish

pytestmark = pytest.mark.django_db

OVERVIEW = "/account/privacy/"
EXPORT = "/account/privacy/export.json"

CATEGORIES = {
    "account",
    "profile",
    "sign_in_methods",
    "sessions",
    "connected_apps",
    "oauth_consents",
    "consent_ledger",
    "erasure_requests",
    "security_events",
}


def signed_in_with_both_factors(client, user) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.get(user=user)
    response = client.post("/account/mfa/verify/", {"code": next_totp_code(device)})
    assert response.status_code == 302, response.content


def test_export_holds_every_category_and_no_secret(client):
    """The download is a JSON attachment named with the date; it has a schema version and
    every category, filled for a user who has something of each kind, and none of the
    secrets: no password hash, authenticator key, passkey public key or credential id,
    token value or authorization code."""
    user = UserFactory()
    stored = furnish(user)
    signed_in_with_both_factors(client, user)

    response = client.get(EXPORT)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"account-data-{timezone.localdate():%Y-%m-%d}.json" in disposition
    body = response.content.decode()
    data = json.loads(body)
    assert data["schema_version"] == EXPORT_SCHEMA_VERSION
    assert set(data) >= CATEGORIES
    assert data["account"]["email"] == user.email
    assert data["account"]["email_addresses"] == [
        {"email": user.email, "verified": True, "primary": True}
    ]
    assert data["profile"]["fields"]["given_name"]["value"] == "Ana"
    assert data["profile"]["fields"]["given_name"]["source"] == "social"
    assert data["profile"]["fields"]["given_name"]["source_detail"] == "google"
    assert data["profile"]["fields"]["birthdate"] == {"label": "Date of birth", "value": None}
    methods = data["sign_in_methods"]
    assert methods["password"] is True
    assert methods["authenticator_app"]["enabled"] is True
    assert methods["authenticator_app"]["recovery_codes_left"] == 10
    assert [passkey["name"] for passkey in methods["passkeys"]] == ["Work laptop"]
    assert methods["social_accounts"][0]["provider"] == "google"
    assert methods["social_accounts"][0]["uid"] == f"google-uid-{user.pk}"
    assert data["sessions"]["current"]["level"] == "2"
    assert data["sessions"]["kept"]
    [app] = data["connected_apps"]
    assert app["client"] == "Partner Shop"
    assert app["scopes"] == ["email", "openid"]
    assert app["active_access_tokens"] == 1
    assert app["pending_authorization_codes"] == 1
    assert data["oauth_consents"][0]["scopes"] == ["email", "openid"]
    [record] = data["consent_ledger"]
    assert record["purpose"] == "newsletter"
    assert record["action"] == "granted"
    assert re.fullmatch(r"[0-9a-f-]{36}", record["receipt_id"])
    assert record["receipt"].count(".") == 2  # a compact JWS
    assert record["ip_address"] == "203.0.113.9"

    for secret in (
        stored.password_hash,
        stored.password_hash.split("$")[-1],
        stored.totp_key,
        stored.access_token,
        stored.refresh_token,
        stored.code,
        stored.passkey_public_key.hex(),
    ):
        assert secret not in body
    import base64

    for raw in (stored.passkey_public_key, stored.passkey_credential_id):
        assert base64.b64encode(raw).decode() not in body
        assert base64.urlsafe_b64encode(raw).decode().rstrip("=") not in body
    assert "password_hash" not in body
    assert '"key"' not in body


def test_export_of_a_bare_account_is_complete_too():
    """A user with nothing but an email and a password gets every category, empty."""
    user = UserFactory(given_name="", family_name="")
    data = user_data_export(user=user)
    assert set(data) >= CATEGORIES
    assert data["profile"] is None
    assert data["sign_in_methods"]["authenticator_app"]["enabled"] is False
    assert data["connected_apps"] == data["oauth_consents"] == data["consent_ledger"] == []
    json.dumps(data, default=str)


def test_readable_page_lists_the_data_and_links_the_download(client):
    """The page shows the account, the profile with its source, the ways to sign in, the
    connected application and the consent decision, with the download and delete links;
    it is linked from the account home page."""
    user = UserFactory()
    furnish(user)
    signed_in_with_both_factors(client, user)

    page = client.get(OVERVIEW)

    assert page.status_code == 200
    html = page.content.decode()
    for text in (user.email, "Work laptop", "Partner Shop", "newsletter", "Google", EXPORT):
        assert text in html, text
    assert 'href="/account/privacy/delete/"' in html
    assert "/account/privacy/" in client.get("/").content.decode()


def test_pages_need_sign_in_and_the_second_factor(client):
    """Anonymous visitors go to the sign-in page; a session with only the password of a
    user with an authenticator app is sent to the code page first."""
    for path in (OVERVIEW, EXPORT, "/account/privacy/delete/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    user = UserFactory()
    furnish(user)
    client.force_login(user)
    for path in (OVERVIEW, EXPORT, "/account/privacy/delete/"):
        response = client.get(path)
        assert response.status_code == 303
        assert response["Location"].startswith("/account/mfa/verify/?next=")


def test_export_urls_refuse_post(client):
    """The export is a read: POST gets 405, not a 500."""
    client.force_login(UserFactory())
    assert client.post(OVERVIEW).status_code == 405
    assert client.post(EXPORT).status_code == 405


def test_page_in_portuguese(client):
    """With pt-BR chosen, the page is in Portuguese."""
    client.force_login(UserFactory())
    page = client.get(OVERVIEW, headers={"accept-language": "pt-BR"})
    assert page.status_code == 200
    assert "Seus dados" in page.content.decode()


def test_export_holds_only_the_signed_in_users_data(client):
    """Another user's address, passkey, social account and ledger records are not in it."""
    user, other = UserFactory(), UserFactory()
    furnish(user)
    furnish(other)
    other.passkeys.update(name="Someone else's phone")
    signed_in_with_both_factors(client, user)
    body = client.get(EXPORT).content.decode()
    data = json.loads(body)
    assert other.email not in body
    assert "Someone else's phone" not in body
    assert f"google-uid-{other.pk}" not in body
    assert len(data["consent_ledger"]) == 1
