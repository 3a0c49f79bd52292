"""A web client's back end also uses client credentials; allowed scopes are enforced."""

from __future__ import annotations

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from oauth2_provider.models import get_application_model

from ciam.oauth.client_cache import application_cache_forget
from tests.conftest import query_of
from tests.factories import make_client

Application = get_application_model()
TIMEOUT = 10


def _update(client_id: str, **fields) -> None:
    Application.objects.filter(client_id=client_id).update(**fields)
    application_cache_forget(client_id)


def _code_flow(browser, issuer, registered, redirect_uri, user, password, scope="openid"):
    """An Authlib relying party through the hosted pages; the token response."""
    session = OAuth2Session(
        registered.client_id,
        registered.client_secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    verifier = "v" * 64
    url, _state = session.create_authorization_url(issuer + "/authorize", code_verifier=verifier)
    location = browser.authorize(dict(query_of(url)), email=user.email, password=password)
    token = session.fetch_token(
        issuer + "/token", authorization_response=location, code_verifier=verifier
    )
    return session, token


def test_web_client_gets_a_code_token_and_a_client_credentials_token(
    issuer, browser, user, password
):
    """With its service account on, a confidential web client gets tokens from a code for
    its users and, with client credentials, for itself (Authlib, client_secret_basic and
    client_secret_post); without it, client credentials are refused (unauthorized_client)."""
    redirect_uri = "https://rp.example.test/callback"
    registered = make_client("web", redirect_uris=[redirect_uri], first_party=True)
    service = OAuth2Session(registered.client_id, registered.client_secret)
    refused = requests.post(
        issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=(registered.client_id, registered.client_secret),
        timeout=TIMEOUT,
    )
    assert refused.status_code in (400, 401)
    assert refused.json()["error"] == "unauthorized_client"

    _update(registered.client_id, client_credentials_enabled=True)
    _session, token = _code_flow(browser, issuer, registered, redirect_uri, user, password)
    assert token["id_token"]
    assert token["access_token"]
    own = service.fetch_token(issuer + "/token", grant_type="client_credentials")
    assert own["access_token"]
    assert "id_token" not in own
    assert "refresh_token" not in own
    post = OAuth2Session(
        registered.client_id,
        registered.client_secret,
        token_endpoint_auth_method="client_secret_post",
    ).fetch_token(issuer + "/token", grant_type="client_credentials")
    assert post["access_token"]
    # A client credentials token acts for no user: no user scopes for it.
    openid = requests.post(
        issuer + "/token",
        data={"grant_type": "client_credentials", "scope": "openid"},
        auth=(registered.client_id, registered.client_secret),
        timeout=TIMEOUT,
    )
    assert openid.json()["error"] == "invalid_scope"


def test_service_account_gets_the_api_scopes_only_when_allowed(issuer):
    """The back-end API scopes reach every customer's records: a web client's service
    account gets them only when its allowed scopes list them."""
    registered = make_client("web", redirect_uris=["https://rp.example.test/cb"])
    _update(registered.client_id, client_credentials_enabled=True)

    def token(scope: str) -> requests.Response:
        return requests.post(
            issuer + "/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(registered.client_id, registered.client_secret),
            timeout=TIMEOUT,
        )

    assert token("consent:read").json()["error"] == "invalid_scope"
    _update(registered.client_id, allowed_scopes="openid email consent:read")
    assert token("consent:read").status_code == 200
    assert token("profile:read").json()["error"] == "invalid_scope"


def test_refresh_drops_scopes_no_longer_allowed(issuer, browser, user, password):
    """Narrowing a client's allowed scopes narrows its existing refresh token families: the
    next refresh carries only the scopes still allowed."""
    redirect_uri = "https://rp.example.test/callback"
    registered = make_client("web", redirect_uris=[redirect_uri], first_party=True)
    _session, token = _code_flow(
        browser,
        issuer,
        registered,
        redirect_uri,
        user,
        password,
        scope="openid email offline_access",
    )
    assert set(token["scope"].split()) == {"openid", "email", "offline_access"}
    _update(registered.client_id, allowed_scopes="openid offline_access")
    refreshed = requests.post(
        issuer + "/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(registered.client_id, registered.client_secret),
        timeout=TIMEOUT,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert set(refreshed.json()["scope"].split()) == {"openid", "offline_access"}


def test_public_client_never_uses_client_credentials(issuer):
    """A public client with the flag forced on in the database still gets no client
    credentials token."""
    registered = make_client("spa", redirect_uris=["https://app.example.test/cb"])
    _update(registered.client_id, client_credentials_enabled=True)
    response = requests.post(
        issuer + "/token",
        data={"grant_type": "client_credentials", "client_id": registered.client_id},
        timeout=TIMEOUT,
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


def test_allowed_scopes_at_authorize(issuer, browser, user, password):
    """A client limited to some scopes gets invalid_scope for any other at /authorize, and
    its code for those it may ask for."""
    redirect_uri = "https://rp.example.test/callback"
    registered = make_client("web", redirect_uris=[redirect_uri], first_party=True)
    _update(registered.client_id, allowed_scopes="openid email")
    params = {
        "client_id": registered.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "state": "s1",
    }
    refused = browser.get("/authorize", params={**params, "scope": "openid profile"})
    assert refused.status_code == 302
    assert query_of(refused.headers["Location"])["error"] == "invalid_scope"
    location = browser.authorize(
        {**params, "scope": "openid email"}, email=user.email, password=password
    )
    assert "code" in query_of(location)


def test_allowed_scopes_at_token(issuer):
    """A machine client limited to consent:read gets invalid_scope for consent:write."""
    registered = make_client("service", name="CRM")
    _update(registered.client_id, allowed_scopes="consent:read")

    def token(scope: str) -> requests.Response:
        return requests.post(
            issuer + "/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(registered.client_id, registered.client_secret),
            timeout=TIMEOUT,
        )

    assert token("consent:write").json()["error"] == "invalid_scope"
    assert token("consent:read").status_code == 200


@pytest.mark.django_db
def test_discovery_offers_the_supported_grants(client):
    """Discovery lists the grants clients may hold: code, refresh and client credentials."""
    metadata = client.get("/.well-known/openid-configuration").json()
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
