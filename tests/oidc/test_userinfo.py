"""The UserInfo endpoint (OIDC Core 5.3) and the claims it releases (5.4, 5.5)."""

from __future__ import annotations

import json

import pytest
import requests


@pytest.fixture
def signed_in(rp, profiled_user, password):
    """Tokens for the profiled user with every standard scope."""
    request, tokens = rp.sign_in(
        email=profiled_user.email, password=password, scope="openid profile email address phone"
    )
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    return {"tokens": tokens, "claims": claims}


@pytest.mark.parametrize("how", ["get", "post", "body"])
def test_userinfo_by_get_post_and_form_body(rp, signed_in, how):
    """GET with Bearer header, POST with header, POST with the token in the form body: the
    same JSON, whose sub equals the ID token's."""
    response = rp.userinfo(signed_in["tokens"]["access_token"], how=how)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json()
    assert data["sub"] == signed_in["claims"]["sub"]
    assert data["email"]


def test_userinfo_token_in_query_is_refused(rp, signed_in):
    """RFC 9700 4.3.2: access tokens in the query string are not accepted."""
    response = requests.get(
        rp.metadata["userinfo_endpoint"],
        params={"access_token": signed_in["tokens"]["access_token"]},
        timeout=10,
    )
    assert response.status_code in (400, 401)


@pytest.mark.parametrize(
    "token", [None, "not-a-token", "Bearer"], ids=["missing", "unknown", "garbage"]
)
def test_userinfo_without_valid_token_is_401(rp, token):
    """No or an unknown token: 401 with a Bearer challenge (RFC 6750 3)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = requests.get(rp.metadata["userinfo_endpoint"], headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (
            "profile",
            {
                "name": "Ana Silva",
                "given_name": "Ana",
                "family_name": "Silva",
                "nickname": "Aninha",
                "locale": "pt-BR",
                "zoneinfo": "America/Sao_Paulo",
            },
        ),
        ("email", {"email_verified": True}),
        ("phone", {"phone_number": "+5511987654321", "phone_number_verified": True}),
        (
            "address",
            {
                "address": {
                    "street_address": "Rua Augusta 1500",
                    "locality": "São Paulo",
                    "region": "SP",
                    "postal_code": "01304-001",
                    "country": "BR",
                }
            },
        ),
    ],
)
def test_scope_yields_its_standard_claims(rp, profiled_user, password, scope, expected):
    """Each of profile, email, address, phone yields its claims, and no other scope's."""
    _, tokens = rp.sign_in(email=profiled_user.email, password=password, scope=f"openid {scope}")
    data = rp.userinfo(tokens["access_token"]).json()
    for name, value in expected.items():
        if name == "address":
            for part, part_value in value.items():
                assert data["address"][part] == part_value, part
            assert "Rua Augusta 1500" in data["address"]["formatted"]
        else:
            assert data[name] == value, name
    if scope == "email":
        assert data["email"] == profiled_user.email
    if scope == "profile":
        assert isinstance(data["updated_at"], int)
    others = {
        "profile": "given_name",
        "email": "email",
        "phone": "phone_number",
        "address": "address",
    }
    for other_scope, claim in others.items():
        if other_scope != scope:
            assert claim not in data, (scope, claim)


def test_openid_scope_alone_gives_only_sub(rp, profiled_user, password):
    """scope=openid alone releases sub and nothing else."""
    _, tokens = rp.sign_in(email=profiled_user.email, password=password, scope="openid")
    assert rp.userinfo(tokens["access_token"]).json() == {"sub": profiled_user.public_id}


def test_unknown_values_are_omitted_not_null(rp, user, password):
    """Claims without a value are left out, never sent as null (OIDC Core 5.3.2)."""
    _, tokens = rp.sign_in(email=user.email, password=password, scope="openid profile phone")
    data = rp.userinfo(tokens["access_token"]).json()
    assert None not in data.values()
    assert "phone_number" not in data
    assert "birthdate" not in data


def test_claims_parameter_name_essential_in_userinfo(rp, profiled_user, password):
    """claims={"userinfo":{"name":{"essential":true}}} with scope openid: name is returned."""
    claims_request = json.dumps({"userinfo": {"name": {"essential": True}}})
    _, tokens = rp.sign_in(
        email=profiled_user.email, password=password, scope="openid", claims=claims_request
    )
    data = rp.userinfo(tokens["access_token"]).json()
    assert data["name"] == "Ana Silva"
    assert "email" not in data
    assert "given_name" not in data


def test_claims_parameter_for_id_token(rp, profiled_user, password):
    """claims={"id_token":{"email":...}} puts email in the ID token, not in UserInfo."""
    claims_request = json.dumps({"id_token": {"email": {"essential": True}}})
    request, tokens = rp.sign_in(
        email=profiled_user.email, password=password, scope="openid", claims=claims_request
    )
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["email"] == profiled_user.email
    assert "email" not in rp.userinfo(tokens["access_token"]).json()


def test_claims_parameter_survives_refresh(rp, profiled_user, password):
    """A refreshed access token still honours the claims parameter of the authorization."""
    claims_request = json.dumps({"userinfo": {"phone_number": None}})
    _, tokens = rp.sign_in(
        email=profiled_user.email, password=password, scope="openid", claims=claims_request
    )
    refreshed = rp.refresh(tokens["refresh_token"])
    assert rp.userinfo(refreshed["access_token"]).json()["phone_number"] == "+5511987654321"


def test_malformed_claims_parameter_is_invalid_request(rp, profiled_user, password, browser):
    """A claims parameter that is not JSON goes back to the client as invalid_request
    (RFC 6749 4.1.2.1: the redirect_uri is valid, so the error is redirected)."""
    rp.sign_in(email=profiled_user.email, password=password)
    request = rp.authorization_request(scope="openid", claims="{not json")
    response = browser.follow_local(browser.get(request.url))
    assert response.status_code in (302, 303), (response.status_code, response.text[:200])
    params = rp.callback_params(response.headers["Location"], request)
    assert params["error"] == "invalid_request"
    assert "code" not in params
