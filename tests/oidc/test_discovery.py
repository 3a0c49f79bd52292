"""OpenID Connect Discovery 1.0 and JWKS, as the Config OP test plan checks them."""

from __future__ import annotations

import pytest
import requests
from authlib.oauth2 import rfc9207
from authlib.oidc import rpinitiated
from authlib.oidc.discovery import OpenIDProviderMetadata


def test_document_validates_with_authlib(metadata):
    """Authlib's OpenID Provider metadata rules (plus RFC 9207 and RP-initiated logout) pass."""
    OpenIDProviderMetadata(metadata).validate(
        metadata_classes=[
            rfc9207.AuthorizationServerMetadata,
            rpinitiated.OpenIDProviderMetadata,
        ]
    )


def test_issuer_is_url_prefix_and_id_token_iss(metadata, issuer, rp, user, password):
    """The issuer equals the URL the document is served under and the iss of ID tokens."""
    assert metadata["issuer"] == issuer
    request, tokens = rp.sign_in(email=user.email, password=password)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["iss"] == metadata["issuer"]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
        ("end_session_endpoint", "/logout"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ],
)
def test_endpoints_live_under_the_issuer(metadata, issuer, name, path):
    """Every endpoint and jwks_uri is advertised, absolute, under the issuer."""
    assert metadata[name] == issuer + path


def test_jwks_uri_serves_public_signing_keys(metadata):
    """jwks_uri serves RS256 and ES256 public keys with kid, use=sig and no private parts."""
    response = requests.get(metadata["jwks_uri"], timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    keys = response.json()["keys"]
    assert {key["alg"] for key in keys} >= {"RS256", "ES256"}
    for key in keys:
        assert key["kid"]
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_scopes_and_response_types(metadata):
    """openid is among scopes_supported; only the code flow is offered."""
    assert "openid" in metadata["scopes_supported"]
    assert {"profile", "email", "address", "phone", "offline_access"} <= set(
        metadata["scopes_supported"]
    )
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["subject_types_supported"] == ["public", "pairwise"]


def test_algorithms_grants_and_pkce(metadata):
    """RS256 and ES256 ID tokens; code, refresh and client_credentials grants; PKCE S256 only."""
    assert {"RS256", "ES256"} <= set(metadata["id_token_signing_alg_values_supported"])
    assert "none" not in metadata["id_token_signing_alg_values_supported"]
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(
        metadata["grant_types_supported"]
    )
    assert "implicit" not in metadata["grant_types_supported"]
    assert "password" not in metadata["grant_types_supported"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]


def test_claims_and_claims_parameter(metadata):
    """claims_supported lists the standard claims; the claims parameter is supported."""
    expected = {
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "azp",
        "sid",
        "name",
        "given_name",
        "family_name",
        "email",
        "email_verified",
        "address",
        "phone_number",
        "phone_number_verified",
    }
    assert expected <= set(metadata["claims_supported"])
    assert metadata["claims_parameter_supported"] is True


def test_request_objects_declared_unsupported(metadata):
    """request and request_uri are declared false explicitly (request_uri defaults to true)."""
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False


def test_iss_parameter_and_client_authentication(metadata):
    """RFC 9207 support is declared; token endpoint takes basic, post and none (public)."""
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(
        metadata["token_endpoint_auth_methods_supported"]
    )
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]


def test_discovery_is_cacheable(issuer):
    """The document carries an ETag and answers 304 to If-None-Match."""
    url = issuer + "/.well-known/openid-configuration"
    first = requests.get(url, timeout=10)
    assert first.headers["ETag"]
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
