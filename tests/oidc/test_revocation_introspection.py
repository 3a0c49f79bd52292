"""Token revocation (RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def tokens(rp, user, password):
    _, tokens = rp.sign_in(email=user.email, password=password, scope="openid email")
    return tokens


# --- revocation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_revoking_an_unknown_token_answers_200(rp, hint):
    """RFC 7009 2.2: an invalid or unknown token is not an error."""
    response = rp.revoke("never-issued-token", hint)
    assert response.status_code == 200, response.text


def test_revoking_the_access_token(rp, tokens):
    """A revoked access token no longer opens UserInfo and introspects as inactive."""
    assert rp.revoke(tokens["access_token"], "access_token").status_code == 200
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.introspect(tokens["access_token"]).json() == {"active": False}


def test_revoking_the_refresh_token_revokes_its_access_token(rp, tokens):
    """RFC 7009 2.1: revoking a refresh token also invalidates access tokens of the grant."""
    assert rp.revoke(tokens["refresh_token"], "refresh_token").status_code == 200
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_wrong_token_type_hint_still_revokes(rp, tokens):
    """The hint is only a hint (RFC 7009 2.1): a refresh token sent as access_token goes too."""
    assert rp.revoke(tokens["refresh_token"], "access_token").status_code == 200
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"


def test_client_cannot_revoke_another_clients_token(rp, make_rp, other_web_client, tokens):
    """RFC 7009 2.1: the provider checks that the token was issued to the caller."""
    other = make_rp(other_web_client)
    for kind in ("access_token", "refresh_token"):
        response = other.revoke(tokens[kind], kind)
        assert response.status_code in (200, 400, 401, 403)
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    assert rp.refresh(tokens["refresh_token"])["access_token"]


def test_revocation_requires_client_authentication(rp, tokens):
    """A wrong secret is 401 invalid_client and revokes nothing."""
    response = requests.post(
        rp.metadata["revocation_endpoint"],
        data={"token": tokens["access_token"]},
        auth=(rp.client.client_id, "wrong-secret"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert rp.userinfo(tokens["access_token"]).status_code == 200


def test_public_client_revokes_its_own_token(spa_rp, user, password):
    """A public client identifies itself with client_id alone and can revoke its tokens."""
    _, tokens = spa_rp.sign_in(email=user.email, password=password)
    response = spa_rp.revoke(tokens["refresh_token"], "refresh_token")
    assert response.status_code == 200, response.text
    assert spa_rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"


# --- introspection ------------------------------------------------------------------------------


def test_introspection_of_an_active_access_token(rp, tokens, user, issuer):
    """An active token introspects with active, scope, client_id, sub, exp and iss."""
    response = rp.introspect(tokens["access_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json()
    assert data["active"] is True
    assert set(data["scope"].split()) == {"openid", "email"}
    assert data["client_id"] == rp.client.client_id
    assert data["sub"] == user.public_id
    assert data["iss"] == issuer
    assert data["exp"] > data["iat"]
    assert data["token_type"].lower() == "bearer"


def test_introspection_of_an_active_refresh_token(rp, tokens):
    """A live refresh token introspects as active for its client."""
    data = rp.introspect(tokens["refresh_token"]).json()
    assert data["active"] is True
    assert data["client_id"] == rp.client.client_id


@pytest.mark.parametrize("token", ["never-issued", "", "x" * 5000, "eyJhbGciOiJub25lIn0.e30."])
def test_bad_tokens_introspect_as_inactive_only(rp, token):
    """Anything unknown answers exactly {"active": false}, nothing more (RFC 7662 2.2)."""
    if token == "":
        response = requests.post(
            rp.metadata["introspection_endpoint"],
            data={"token": token},
            auth=(rp.client.client_id, rp.client.client_secret),
            timeout=10,
        )
        assert response.status_code in (200, 400)
        if response.status_code == 200:
            assert response.json() == {"active": False}
        return
    response = rp.introspect(token)
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_id_token_is_not_an_access_token(rp, tokens):
    """An ID token presented for introspection or UserInfo is not an access token."""
    assert rp.introspect(tokens["id_token"]).json() == {"active": False}
    assert rp.userinfo(tokens["id_token"]).status_code == 401


def test_introspection_without_client_authentication_is_401(rp, tokens):
    """Introspection is for authenticated clients: none, wrong secret -> 401 invalid_client,
    and nothing about the token is revealed."""
    url = rp.metadata["introspection_endpoint"]
    attempts = [
        requests.post(url, data={"token": tokens["access_token"]}, timeout=10),
        requests.post(
            url,
            data={"token": tokens["access_token"]},
            auth=(rp.client.client_id, "wrong-secret"),
            timeout=10,
        ),
        requests.post(
            url,
            data={"token": tokens["access_token"], "client_id": rp.client.client_id},
            timeout=10,
        ),
    ]
    for response in attempts:
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client"}
        assert "WWW-Authenticate" in response.headers


def test_introspection_with_client_secret_post(rp, tokens):
    """client_secret_post is accepted at the introspection endpoint as discovery says."""
    response = requests.post(
        rp.metadata["introspection_endpoint"],
        data={
            "token": tokens["access_token"],
            "client_id": rp.client.client_id,
            "client_secret": rp.client.client_secret,
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["active"] is True


def test_public_client_cannot_introspect(spa_rp, tokens, spa_client):
    """A public client (no secret) cannot use introspection."""
    response = requests.post(
        spa_rp.metadata["introspection_endpoint"],
        data={"token": tokens["access_token"], "client_id": spa_client.client_id},
        timeout=10,
    )
    assert response.status_code == 401
