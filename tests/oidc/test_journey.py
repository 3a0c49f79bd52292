"""One relying party's whole life with the provider, end to end over HTTP."""

from __future__ import annotations

from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.conftest import query_of

from .conftest import now


def test_full_journey(rp, browser, user, password, issuer):
    """Discovery, sign-in, tokens, verified ID token, UserInfo, refresh rotation with reuse
    detection, revocation, introspection, RP-initiated logout and a failed silent sign-in.
    """
    # Discovery: a valid document for this issuer.
    OpenIDProviderMetadata(rp.metadata).validate()
    assert rp.metadata["issuer"] == issuer

    # Authorization request with state and nonce; the user signs in on the hosted form.
    request = rp.authorization_request(scope="openid profile email offline_access")
    location = rp.authorize(request, email=user.email, password=password)
    params = rp.callback_params(location, request)  # state echoed, iss = issuer (RFC 9207)
    assert params["code"]
    started = now()

    # Code -> tokens.
    tokens = rp.exchange(location, request)
    assert tokens["token_type"].lower() == "bearer"
    assert {"access_token", "id_token", "refresh_token", "expires_in"} <= tokens.keys()
    assert rp.last_token_response.headers["Cache-Control"] == "no-store"

    # ID token: signature by a JWKS key named by kid, and every claim a client relies on.
    id_token = rp.verify_id_token(
        tokens["id_token"], nonce=request.nonce, access_token=tokens["access_token"]
    )
    assert id_token.header["alg"] == "RS256"
    assert id_token.header["kid"] in {key["kid"] for key in rp.jwks().as_dict()["keys"]}
    claims = id_token.claims
    assert claims["iss"] == issuer
    assert claims["aud"] in (rp.client.client_id, [rp.client.client_id])
    assert claims["azp"] == rp.client.client_id
    assert claims["nonce"] == request.nonce
    assert claims["exp"] > started
    assert started - 60 <= claims["iat"] <= started + 5
    assert started - 60 <= claims["auth_time"] <= claims["iat"]
    assert isinstance(claims["sid"], str)
    assert claims["sid"]
    assert claims["sub"] == user.public_id

    # UserInfo speaks about the same subject.
    userinfo = rp.userinfo(tokens["access_token"])
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == claims["sub"]
    assert userinfo.json()["email"] == user.email

    # Refresh rotates the refresh token; the new access token works.
    refreshed = rp.refresh(tokens["refresh_token"])
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert refreshed["access_token"] != tokens["access_token"]
    assert rp.userinfo(refreshed["access_token"]).status_code == 200

    # Replaying the rotated-out refresh token is refused and revokes the whole family.
    assert rp.refresh_error(tokens["refresh_token"]) == "invalid_grant"
    assert rp.refresh_error(refreshed["refresh_token"]) == "invalid_grant"
    assert rp.userinfo(refreshed["access_token"]).status_code == 401
    assert rp.introspect(refreshed["access_token"]).json() == {"active": False}

    # A new silent authorization in the same browser session: fresh tokens, no login form.
    request = rp.authorization_request(scope="openid email")
    location = rp.authorize(request)
    tokens = rp.exchange(location, request)
    active = rp.introspect(tokens["access_token"])
    assert active.status_code == 200
    assert active.json()["active"] is True
    assert active.json()["client_id"] == rp.client.client_id
    assert active.json()["sub"] == claims["sub"]

    # Revocation (RFC 7009), then introspection reports nothing but inactivity.
    assert rp.revoke(tokens["refresh_token"], "refresh_token").status_code == 200
    assert rp.revoke(tokens["access_token"], "access_token").status_code == 200
    assert rp.introspect(tokens["access_token"]).json() == {"active": False}
    assert rp.introspect(tokens["refresh_token"]).json() == {"active": False}
    assert rp.userinfo(tokens["access_token"]).status_code == 401

    # RP-initiated logout with id_token_hint, a registered post-logout URI and state.
    logout = browser.get(
        rp.metadata["end_session_endpoint"],
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": rp.client.post_logout_redirect_uri,
            "state": "bye-1",
        },
    )
    assert logout.status_code in (302, 303), logout.text[:300]
    back = logout.headers["Location"]
    assert back.startswith(rp.client.post_logout_redirect_uri + "?")
    assert query_of(back)["state"] == "bye-1"

    # The session is gone: prompt=none now ends with login_required at the redirect_uri.
    request = rp.authorization_request(prompt="none")
    location = rp.authorize(request)
    params = rp.callback_params(location, request)
    assert params["error"] == "login_required"
    assert "code" not in params
