"""The happy path through the hosted login, end to end over HTTP."""

from __future__ import annotations

import requests

from tests.conftest import query_of


def test_code_flow_with_password_sign_in(browser, web_client, user, password, issuer):
    """A signed-in user gets a code with state and iss; the code buys tokens."""
    location = browser.authorize(
        {
            "response_type": "code",
            "client_id": web_client.client_id,
            "redirect_uri": web_client.redirect_uri,
            "scope": "openid email",
            "state": "s-1",
            "nonce": "n-1",
        },
        email=user.email,
        password=password,
    )
    params = query_of(location)
    assert location.startswith(web_client.redirect_uri)
    assert params["state"] == "s-1"
    assert params["iss"] == issuer
    token = requests.post(
        issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": web_client.redirect_uri,
        },
        auth=(web_client.client_id, web_client.client_secret),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    assert token.headers["Cache-Control"] == "no-store"
    assert {"access_token", "id_token", "refresh_token"} <= token.json().keys()
