"""The token endpoint: codes, client authentication, PKCE, refresh and the other grants."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from base64 import urlsafe_b64encode
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc.errors import BadSignatureError

from tests.conftest import Client, query_of
from tests.factories import make_client

from .conftest import backdate_authentication, now


def code_for(rp, user, password, **params) -> tuple:
    """Run the authorization part only; return (request, code)."""
    request = rp.authorization_request(**params)
    location = rp.authorize(request, email=user.email, password=password)
    return request, rp.callback_params(location, request)["code"]


# --- authorization codes ---------------------------------------------------------------------


def test_code_reuse_is_rejected_and_revokes_its_tokens(rp, user, password):
    """A code redeemed twice: 400 invalid_grant, and the tokens of the first use stop working."""
    _, code = code_for(rp, user, password, scope="openid email")
    first = rp.redeem_code(code)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert rp.userinfo(tokens["access_token"]).status_code == 200

    replay = rp.redeem_code(code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert replay.headers["Cache-Control"] == "no-store"

    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.introspect(tokens["access_token"]).json() == {"active": False}
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"


def test_code_redeemed_twice_at_once(rp, user, password, monkeypatch):
    """Two requests with one code at the same moment: the second read the grant before the
    first committed. It gets invalid_grant (not a server error), none of its own tokens
    remain, and the first one's tokens are revoked, as for any code presented twice."""
    from ciam.oauth import lookups

    _, code = code_for(rp, user, password, scope="openid email offline_access")
    lookup = lookups.GRANT_LOOKUP
    stale = lookup.first(code)  # what the second request read before the first committed
    first = rp.redeem_code(code)
    assert first.status_code == 200, first.text
    winner = first.json()
    monkeypatch.setattr(lookup, "first", lambda value: stale)
    replay = rp.redeem_code(code)
    monkeypatch.undo()
    assert replay.status_code == 400, replay.text
    assert replay.json()["error"] == "invalid_grant"
    assert rp.userinfo(winner["access_token"]).status_code == 401
    assert rp.refresh_error(winner["refresh_token"]) == "invalid_grant"


def test_code_is_bound_to_its_client(rp, make_rp, other_web_client, user, password):
    """Another client cannot redeem the code (RFC 6749 4.1.3)."""
    _, code = code_for(rp, user, password)
    other = make_rp(other_web_client)
    response = other.redeem_code(code, redirect_uri=rp.client.redirect_uri)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_is_bound_to_its_redirect_uri(rp, user, password):
    """The token request must repeat the authorization request's redirect_uri."""
    _, code = code_for(rp, user, password)
    response = rp.redeem_code(code, redirect_uri="https://rp.example.test/other")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    # The failed attempt does not burn a code that was never redeemed.
    assert rp.redeem_code(code).status_code == 200


def test_unknown_code_is_invalid_grant(rp):
    """A code the provider never issued is invalid_grant."""
    response = rp.redeem_code("not-a-real-code")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# --- client authentication --------------------------------------------------------------------


def test_client_secret_post_works_like_basic(make_rp, web_client, user, password):
    """client_secret_post (credentials in the form body) is accepted like HTTP Basic."""
    rp = make_rp(web_client, auth_method="client_secret_post")
    request, tokens = rp.sign_in(email=user.email, password=password)
    assert "Authorization" not in rp.last_token_response.request.headers
    assert "client_secret=" in rp.last_token_response.request.body
    claims = rp.verify_id_token(
        tokens["id_token"], nonce=request.nonce, access_token=tokens["access_token"]
    ).claims
    assert claims["sub"] == user.public_id
    refreshed = rp.refresh(tokens["refresh_token"])
    assert refreshed["access_token"]


@pytest.mark.parametrize("how", ["basic", "post"])
def test_wrong_client_secret_is_invalid_client(rp, user, password, how):
    """A wrong secret is invalid_client with 401 (RFC 6749 5.2), whatever the method."""
    _, code = code_for(rp, user, password)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.client.redirect_uri,
    }
    if how == "basic":
        response = requests.post(
            rp.metadata["token_endpoint"],
            data=data,
            auth=(rp.client.client_id, "wrong-secret"),
            timeout=10,
        )
    else:
        data |= {"client_id": rp.client.client_id, "client_secret": "wrong-secret"}
        response = requests.post(rp.metadata["token_endpoint"], data=data, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store"


def test_confidential_client_without_secret_is_refused(rp, user, password):
    """A confidential client cannot fall back to client_id alone."""
    _, code = code_for(rp, user, password)
    response = requests.post(
        rp.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.client.redirect_uri,
            "client_id": rp.client.client_id,
        },
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_responses_are_not_cached(rp, user, password):
    """Token responses, successful or not, carry Cache-Control: no-store (RFC 6749 5.1)."""
    _, tokens = rp.sign_in(email=user.email, password=password)
    assert rp.last_token_response.headers["Cache-Control"] == "no-store"
    assert rp.last_token_response.headers["Pragma"] == "no-cache"
    rp.refresh(tokens["refresh_token"])
    assert rp.last_token_response.headers["Cache-Control"] == "no-store"
    failed = rp.token_request({"grant_type": "refresh_token", "refresh_token": "nope"})
    assert failed.status_code == 400
    assert failed.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("client_fixture", ["rp", "spa_rp"])
def test_password_grant_is_not_served(issuer, request, client_fixture, user, password):
    """RFC 9700 2.4: no password grant, and the token endpoint never checks a password.

    The answer is unsupported_grant_type whether the password is right or wrong: a
    difference would let anyone holding a client_id test passwords outside the hosted
    sign-in page (its rate limits and second factors).
    """
    rp = request.getfixturevalue(client_fixture)
    answers = []
    for candidate in (password, "wrong-password-1"):
        response = rp.token_request(
            {"grant_type": "password", "username": user.email, "password": candidate}
        )
        answers.append((response.status_code, response.json()["error"]))
    assert answers[0] == answers[1]
    assert answers[0] == (400, "unsupported_grant_type")


def test_unknown_grant_type_is_unsupported(rp):
    """A grant type the provider does not know is unsupported_grant_type."""
    response = rp.token_request({"grant_type": "urn:example:unknown"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_token_endpoint_only_takes_form_posts(rp):
    """GET is not allowed; JSON bodies are refused."""
    assert requests.get(rp.metadata["token_endpoint"], timeout=10).status_code == 405
    response = requests.post(
        rp.metadata["token_endpoint"],
        json={"grant_type": "client_credentials"},
        auth=(rp.client.client_id, rp.client.client_secret),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- refresh ----------------------------------------------------------------------------------


def test_refreshed_id_token_keeps_identity_and_auth_time(rp, user, password):
    """A refreshed ID token keeps iss, sub, aud, azp and auth_time, with a fresh iat."""
    rp.sign_in(email=user.email, password=password)
    # An older sign-in, so that auth_time and iat cannot coincide.
    auth_time = backdate_authentication(rp.browser, 900)
    request = rp.authorization_request(prompt="none")
    tokens = rp.exchange(rp.authorize(request), request)
    original = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert original["auth_time"] == auth_time

    before = now()
    refreshed = rp.refresh(tokens["refresh_token"])
    assert "id_token" in refreshed
    claims = rp.verify_id_token(
        refreshed["id_token"], access_token=refreshed["access_token"]
    ).claims
    for name in ("iss", "sub", "aud", "azp", "auth_time", "sid"):
        assert claims[name] == original[name], name
    assert claims["auth_time"] == auth_time
    assert claims["iat"] >= before
    assert claims["iat"] >= original["iat"]
    assert claims["jti"] != original["jti"]
    # OIDC Core 12.2: no nonce is required in a refreshed ID token; if present it is unchanged.
    assert claims.get("nonce", original["nonce"]) == original["nonce"]


def test_refresh_token_of_another_client_is_rejected(rp, make_rp, other_web_client, user, password):
    """A client cannot use a refresh token issued to another client."""
    _, tokens = rp.sign_in(email=user.email, password=password)
    other = make_rp(other_web_client)
    assert other.refresh_error(tokens["refresh_token"]) == "invalid_grant"
    # ...and the failed attempt leaves the rightful owner's token working.
    assert rp.refresh(tokens["refresh_token"])["access_token"]


def test_refresh_cannot_widen_scope(rp, user, password):
    """Refresh may narrow the scope, never widen it (RFC 6749 6)."""
    _, tokens = rp.sign_in(email=user.email, password=password, scope="openid email")
    response = rp.token_request(
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "scope": "openid email phone",
        }
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_refresh_rotation_reuse_revokes_family_for_public_client(spa_rp, user, password):
    """A public client's rotated-out refresh token, replayed, revokes the whole family."""
    _, tokens = spa_rp.sign_in(email=user.email, password=password)
    second = spa_rp.refresh(tokens["refresh_token"])
    assert second["refresh_token"] != tokens["refresh_token"]
    third = spa_rp.refresh(second["refresh_token"])
    assert spa_rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"
    assert spa_rp.refresh_error(third["refresh_token"]) == "invalid_grant"
    assert spa_rp.userinfo(third["access_token"]).status_code == 401


def test_tokens_are_256_random_bits(rp, user, password):
    """Access and refresh tokens are 43 base64url characters (256 bits), all different."""
    _, tokens = rp.sign_in(email=user.email, password=password)
    refreshed = rp.refresh(tokens["refresh_token"])
    values = [tokens[k] for k in ("access_token", "refresh_token")]
    values += [refreshed[k] for k in ("access_token", "refresh_token")]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", value) for value in values), values
    assert len(set(values)) == 4


def test_refresh_revokes_the_access_token_it_replaces(rp, user, password):
    """Rotation ends the previous access token; the new one works at UserInfo."""
    _, tokens = rp.sign_in(email=user.email, password=password)
    refreshed = rp.refresh(tokens["refresh_token"])
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.userinfo(refreshed["access_token"]).json()["sub"] == user.public_id


def test_refresh_token_redeemed_twice_at_once(rp, user, password, monkeypatch):
    """Two requests with one refresh token at the same moment: the first gets the new pair,
    the second invalid_grant (its read of the token predates the first's commit), and the
    whole family is revoked, as for any refresh token presented twice."""
    from ciam.oauth import lookups

    _, tokens = rp.sign_in(email=user.email, password=password)
    lookup = lookups.LIVE_REFRESH_TOKEN_LOOKUP
    checksum = hashlib.sha256(tokens["refresh_token"].encode()).hexdigest()
    stale = lookup.first(checksum)  # what the second request read before the first committed
    winner = rp.refresh(tokens["refresh_token"])
    monkeypatch.setattr(lookup, "first", lambda value: stale)
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"
    monkeypatch.undo()
    assert rp.refresh_error(winner["refresh_token"]) == "invalid_grant"
    assert rp.userinfo(winner["access_token"]).status_code == 401


def test_refresh_is_one_transaction_of_few_statements(rp, user, password, monkeypatch):
    """A refresh reads the token and its authorization, then writes the ID token, claims the
    old refresh token, deletes its access token and inserts the new pair: one commit."""
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    import ciam.oauth.client_cache

    # The client read during the sign-in stays cached however long the sign-in takes on a
    # loaded machine (in production it is kept for 10 s).
    monkeypatch.setattr(ciam.oauth.client_cache, "APPLICATION_CACHE_SECONDS", 3600.0)
    ciam.oauth.client_cache.application_cache_forget()
    _, tokens = rp.sign_in(email=user.email, password=password)
    http = DjangoClient(HTTP_HOST=urlsplit(rp.metadata["issuer"]).netloc)
    basic = base64.b64encode(f"{rp.client.client_id}:{rp.client.client_secret}".encode()).decode()
    with CaptureQueriesContext(connection) as captured:
        response = http.post(
            "/token",
            f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=f"Basic {basic}",
        )
    assert response.status_code == 200, response.content
    statements = [query["sql"].split()[0].upper() for query in captured.captured_queries]
    assert statements.count("SELECT") <= 3, captured.captured_queries
    assert statements.count("INSERT") == 3  # ID token, access token, refresh token
    assert statements.count("UPDATE") == 1
    assert statements.count("DELETE") == 1
    assert "SAVEPOINT" not in statements


# --- PKCE ---------------------------------------------------------------------------------------


def test_pkce_s256_succeeds_for_public_client(spa_rp, user, password):
    """A public client with a valid S256 challenge and verifier gets tokens."""
    request, tokens = spa_rp.sign_in(email=user.email, password=password)
    assert request.params["code_challenge_method"] == "S256"
    assert request.code_verifier
    claims = spa_rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["aud"] in (spa_rp.client.client_id, [spa_rp.client.client_id])


def test_pkce_s256_succeeds_for_confidential_client(rp, user, password):
    """A confidential client may use PKCE too."""
    request, tokens = rp.sign_in(email=user.email, password=password, pkce=True)
    assert request.code_verifier
    assert rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims["sub"]


def test_confidential_client_without_pkce_succeeds(rp, user, password):
    """PKCE is not forced on a confidential client that authenticates (certification plans)."""
    request, tokens = rp.sign_in(email=user.email, password=password, pkce=False)
    assert "code_challenge" not in request.params
    assert tokens["access_token"]


def test_public_client_without_pkce_is_refused(spa_rp, user, password):
    """RFC 9700 2.1.1: a public client without code_challenge gets an error, not a code."""
    request = spa_rp.authorization_request(pkce=False)
    location = spa_rp.authorize(request, email=user.email, password=password)
    params = spa_rp.callback_params(location, request)
    assert params["error"] == "invalid_request"
    assert "code" not in params


@pytest.mark.parametrize("client_fixture", ["spa_rp", "rp"])
def test_plain_code_challenge_is_refused(issuer, request, client_fixture, user, password):
    """code_challenge_method=plain is refused (only S256 is offered)."""
    # ``issuer`` first: the live server's transactional database must be set up before
    # ``user`` is created, or the server's connection cannot see it (PostgreSQL).
    rp = request.getfixturevalue(client_fixture)
    auth_request = rp.authorization_request(
        pkce=False, code_challenge="a" * 43, code_challenge_method="plain"
    )
    location = rp.authorize(auth_request, email=user.email, password=password)
    params = rp.callback_params(location, auth_request)
    assert params["error"] == "invalid_request"
    assert "code" not in params


def test_challenge_without_method_is_refused(spa_rp, user, password):
    """A challenge without a method would mean plain (RFC 7636 4.3): refused."""
    request = spa_rp.authorization_request(pkce=False, code_challenge="b" * 43)
    location = spa_rp.authorize(request, email=user.email, password=password)
    assert spa_rp.callback_params(location, request)["error"] == "invalid_request"


def test_verifier_without_challenge_is_a_downgrade(rp, user, password):
    """RFC 9700 2.1.1: a code_verifier for a code issued without a challenge is invalid_grant."""
    _, code = code_for(rp, user, password, pkce=False)
    response = rp.redeem_code(code, code_verifier="x" * 64)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_verifier_is_rejected(spa_rp, user, password):
    """A verifier that does not match the challenge is invalid_grant."""
    _, code = code_for(spa_rp, user, password)
    response = spa_rp.redeem_code(code, code_verifier="w" * 64)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_missing_verifier_is_rejected(spa_rp, rp, user, password):
    """A code issued with a challenge cannot be redeemed without the verifier."""
    for client in (spa_rp, rp):
        request = client.authorization_request(pkce=True)
        location = client.authorize(request, email=user.email, password=password)
        code = client.callback_params(location, request)["code"]
        response = client.redeem_code(code)
        assert response.status_code == 400
        assert response.json()["error"] in ("invalid_request", "invalid_grant")


# --- other grants and algorithms -------------------------------------------------------------


@pytest.fixture
def service_client(db) -> Client:
    registered = make_client("service", name="Billing job")
    return Client(registered.client_id, registered.client_secret, "", "")


def test_client_credentials_for_service_client(metadata, service_client, rp):
    """A service client gets an access token for itself: no ID token, no refresh token."""
    session = OAuth2Session(
        service_client.client_id, service_client.client_secret, default_timeout=10
    )
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    assert token["access_token"]
    assert token["token_type"].lower() == "bearer"
    assert "refresh_token" not in token
    assert "id_token" not in token
    introspection = rp.introspect(token["access_token"]).json()
    assert introspection["active"] is True
    assert introspection["client_id"] == service_client.client_id
    assert "sub" not in introspection


def test_userinfo_refuses_a_token_without_user(metadata, service_client, rp):
    """A client_credentials token describes no user: UserInfo refuses it (401/403), it does
    not fail."""
    session = OAuth2Session(
        service_client.client_id, service_client.client_secret, default_timeout=10
    )
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    response = rp.userinfo(token["access_token"])
    assert response.status_code in (401, 403), response.status_code


def test_client_credentials_refused_to_user_facing_client(rp):
    """A web client registered for the code flow cannot use client_credentials."""
    response = rp.token_request({"grant_type": "client_credentials"})
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("unauthorized_client", "invalid_client")


def test_service_client_cannot_start_the_code_flow(browser, service_client):
    """A service client has no authorization endpoint use (unauthorized_client or a page)."""
    response = browser.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": service_client.client_id,
            "redirect_uri": "https://rp.example.test/callback",
            "scope": "openid",
        },
    )
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert query_of(response.headers["Location"])["error"] in (
            "unauthorized_client",
            "invalid_request",
        )


def test_es256_client_gets_es256_id_token(make_rp, user, password):
    """A client registered for ES256 gets ID tokens signed ES256 by a key listed in JWKS."""
    registered = make_client(
        "web",
        redirect_uris=["https://ec.example.test/cb"],
        first_party=True,
        algorithm="ES256",
    )
    rp = make_rp(
        Client(registered.client_id, registered.client_secret, "https://ec.example.test/cb", "")
    )
    request, tokens = rp.sign_in(email=user.email, password=password)
    verified = rp.verify_id_token(
        tokens["id_token"], nonce=request.nonce, access_token=tokens["access_token"]
    )
    assert verified.header["alg"] == "ES256"
    published = {key["kid"]: key for key in rp.jwks().as_dict()["keys"]}
    assert published[verified.header["kid"]]["kty"] == "EC"
    assert published[verified.header["kid"]]["crv"] == "P-256"
    refreshed = rp.refresh(tokens["refresh_token"])
    assert rp.verify_id_token(refreshed["id_token"]).header["alg"] == "ES256"


def test_id_token_signature_covers_its_claims(rp, user, password):
    """An RS256 client's ID token names an RSA key; a changed claim breaks the signature."""
    _, tokens = rp.sign_in(email=user.email, password=password)
    verified = rp.verify_id_token(tokens["id_token"])
    published = {key["kid"]: key for key in rp.jwks().as_dict()["keys"]}
    assert published[verified.header["kid"]]["kty"] == "RSA"
    header, _payload, signature = tokens["id_token"].split(".")
    claims = dict(verified.claims, sub="someone-else")
    payload = urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        rp.verify_id_token(f"{header}.{payload}.{signature}")


def test_oauth_error_is_raised_by_authlib_for_bad_refresh(rp):
    """Authlib surfaces the provider's invalid_grant for an unknown refresh token."""
    with pytest.raises(OAuthError) as failure:
        rp.refresh("unknown-refresh-token")
    assert failure.value.error == "invalid_grant"
