"""RFC 9068 access tokens for clients that opt in (``access_token_format = "jwt"``), against
the live provider with Authlib and joserfc: a resource server verifies them with JWKS; a
client credentials token is stored nowhere, works at the back-end APIs and introspection,
and once revoked is refused everywhere the provider looks; a user's token still has its row,
so UserInfo, refresh and revocation behave as for opaque tokens."""

from __future__ import annotations

import time

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.models import get_access_token_model, get_application_model

from ciam.models import RevokedAccessToken
from ciam.oauth.tokens import token_checksum
from tests.conftest import Client
from tests.factories import make_client

TIMEOUT = 10
AccessToken = get_access_token_model()


@pytest.fixture
def jwt_service(db):
    return make_client("service", name="JWT service", access_token_format="jwt")


def service_token(issuer: str, registered, scope: str = "") -> dict:
    session = OAuth2Session(
        registered.client_id, registered.client_secret, scope=scope or None, default_timeout=10
    )
    return dict(session.fetch_token(issuer + "/token", grant_type="client_credentials"))


def verified(issuer: str, token: str) -> tuple[dict, dict]:
    keys = KeySet.import_key_set(requests.get(issuer + "/jwks", timeout=TIMEOUT).json())
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    return dict(decoded.header), dict(decoded.claims)


def test_client_credentials_jwt_verifies_with_jwks_and_is_stored_nowhere(issuer, jwt_service):
    """The token is an ES256 JWS with typ at+jwt and RFC 9068 2.2's claims (sub is the
    client); it verifies with the published keys and writes no AccessToken row."""
    before = AccessToken.objects.count()
    token = service_token(issuer, jwt_service, "consent:read")
    header, claims = verified(issuer, token["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert claims["iss"] == issuer
    assert claims["aud"] == issuer
    assert claims["sub"] == jwt_service.client_id
    assert claims["client_id"] == jwt_service.client_id
    assert claims["scope"] == "consent:read"
    assert claims["exp"] - claims["iat"] == token["expires_in"]
    assert claims["exp"] > time.time()
    assert len(claims["jti"]) >= 16
    assert AccessToken.objects.count() == before


def _post(issuer: str, path: str, token: str, client) -> requests.Response:
    """``token`` to the introspection or revocation endpoint, as ``client``."""
    return requests.post(
        issuer + path,
        data={"token": token},
        auth=(client.client_id, client.client_secret),
        timeout=TIMEOUT,
    )


def test_client_credentials_jwt_works_at_the_apis_and_introspection_until_revoked(
    issuer, jwt_service, web_client
):
    """A back-end API accepts the token; introspection says active with its client and
    scope; after /revoke both refuse it (its jti recorded), and a second revocation is
    still 200."""
    token = service_token(issuer, jwt_service, "consent:read")["access_token"]
    api = issuer + "/api/consent/users/email:nobody@example.com"
    bearer = {"Authorization": f"Bearer {token}"}
    # Authenticated: the API looks for the customer (none here) instead of answering 401.
    assert requests.get(api, headers=bearer, timeout=TIMEOUT).status_code == 404
    introspected = _post(issuer, "/introspect", token, web_client).json()
    assert introspected["active"] is True
    assert introspected["client_id"] == jwt_service.client_id
    assert introspected["scope"] == "consent:read"
    revoke = _post(issuer, "/revoke", token, jwt_service)
    assert revoke.status_code == 200
    assert RevokedAccessToken.objects.count() == 1
    assert requests.get(api, headers=bearer, timeout=TIMEOUT).status_code == 401
    introspected = _post(issuer, "/introspect", token, web_client).json()
    assert introspected == {"active": False}
    again = _post(issuer, "/revoke", token, jwt_service)
    assert again.status_code == 200


def test_another_client_cannot_revoke_it(issuer, jwt_service):
    """RFC 7009 2.1: only the client the token was issued to revokes it."""
    token = service_token(issuer, jwt_service, "consent:read")["access_token"]
    other = make_client("service", name="Other")
    _post(issuer, "/revoke", token, other)
    assert RevokedAccessToken.objects.count() == 0
    bearer = {"Authorization": f"Bearer {token}"}
    api = issuer + "/api/consent/users/email:nobody@example.com"
    assert requests.get(api, headers=bearer, timeout=TIMEOUT).status_code == 404


def test_forged_and_foreign_tokens_are_refused(issuer, jwt_service, web_client):
    """A token with a changed payload, an ID token, and a JWT of a client switched back to
    opaque tokens are not access tokens."""
    token = service_token(issuer, jwt_service, "consent:read")["access_token"]
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload[:-2]}AA.{signature}"
    api = issuer + "/api/consent/users/email:nobody@example.com"
    for bad in (tampered, f"{head}.{payload}.", "eyJ.eyJ.x"):
        response = requests.get(api, headers={"Authorization": f"Bearer {bad}"}, timeout=TIMEOUT)
        assert response.status_code == 401
    client = get_application_model().objects.get(client_id=jwt_service.client_id)
    client.access_token_format = "opaque"
    client.save()
    response = requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert response.status_code == 401


def test_a_users_jwt_access_token_has_its_row(make_rp, issuer, user, password, rp_redirect_uri):
    """For a web client with JWT access tokens, the code exchange gives a JWT whose sub is
    the user's subject; it is stored by checksum, so UserInfo answers, refresh rotates it
    into another JWT, and revoking it ends it at UserInfo."""
    registered = make_client(
        "web", redirect_uris=[rp_redirect_uri], first_party=True, access_token_format="jwt"
    )
    rp = make_rp(Client(registered.client_id, registered.client_secret, rp_redirect_uri, ""))
    _request, tokens = rp.sign_in(
        email=user.email, password=password, scope="openid email offline_access"
    )
    header, claims = verified(issuer, tokens["access_token"])
    assert header["typ"] == "at+jwt"
    id_claims = rp.verify_id_token(tokens["id_token"]).claims
    assert claims["sub"] == id_claims["sub"]
    assert "gty" not in claims
    assert AccessToken.objects.filter(token_checksum=token_checksum(tokens["access_token"]))
    assert rp.userinfo(tokens["access_token"]).json()["sub"] == claims["sub"]
    refreshed = rp.refresh(tokens["refresh_token"])
    _header, refreshed_claims = verified(issuer, refreshed["access_token"])
    assert refreshed_claims["jti"] != claims["jti"]
    assert rp.userinfo(refreshed["access_token"]).status_code == 200
    assert rp.revoke(refreshed["access_token"]).status_code == 200
    assert rp.userinfo(refreshed["access_token"]).status_code == 401
