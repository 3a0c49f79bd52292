"""A whole authorization request signed in with a passkey, over HTTP (no browser)."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import pytest
import requests
from django.test import Client

from accounts.passkeys.app_settings import app_settings
from tests.conftest import query_of, redeem_code

from .authenticator import SoftAuthenticator
from .conftest import register


@pytest.fixture
def device(user) -> SoftAuthenticator:
    device = SoftAuthenticator(rp_id=app_settings.RP_ID, origin=app_settings.ORIGINS[0])
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert register(client, device).status_code == 200
    return device


def passkey_sign_in(browser, login_page, device: SoftAuthenticator) -> requests.Response:
    """What the sign-in page's script does: options, the authenticator, the answer."""
    headers = {"X-CSRFToken": browser.session.cookies["ciam_csrf"]}
    options = browser.post("/account/passkeys/authenticate/begin", json={}, headers=headers)
    assert options.status_code == 200, options.text
    next_url = query_of(login_page.url)["next"]
    return browser.post(
        "/account/passkeys/authenticate/complete",
        json={"credential": device.get(options.json()), "next": next_url},
        headers=headers,
    )


def id_token_claims(issuer: str, client, location: str) -> dict:
    """Redeem the code in ``location``; the ID token's claims, signature checked."""
    return redeem_code(issuer, client, query_of(location)["code"])


@pytest.mark.parametrize(
    ("acr_values", "expected_acr"), [(None, "phrh"), ("phr", "phrh"), ("phrh", "phrh")]
)
def test_passkey_sign_in_in_an_authorization_request(
    browser, web_client, device, issuer, acr_values, expected_acr
):
    """Signing in with a passkey on the sign-in page of an authorization request ends at the
    client with a code; the ID token has amr hwk + user and acr phrh, which satisfies a
    client asking for acr_values phr or phrh."""
    params = {
        "response_type": "code",
        "client_id": web_client.client_id,
        "redirect_uri": web_client.redirect_uri,
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }
    if acr_values:
        params["acr_values"] = acr_values
    login_page = browser.follow_local(browser.get("/authorize?" + urlencode(params)))
    assert "/accounts/login/" in login_page.url
    response = passkey_sign_in(browser, login_page, device)
    assert response.status_code == 200, response.text
    redirect = response.json()["redirect"]
    assert redirect.startswith("/authorize/resume/")
    location = browser.follow_local(browser.get(redirect)).headers["Location"]
    assert location.startswith(web_client.redirect_uri + "?"), location
    claims = id_token_claims(issuer, web_client, location)
    assert claims["sub"]
    assert claims["amr"] == ["hwk", "user"]
    assert claims["acr"] == expected_acr
    assert claims["nonce"] == params["nonce"]
