"""Only an ID token is an ID token: a back-channel logout token, signed by the same keys for
the same client and user, or any JWT whose header ``typ`` says it is something else, is not
accepted as ``id_token_hint``. The end-session endpoint refuses it as it refuses a hint it
did not issue, and the authorization endpoint treats it as no proof of who is signed in."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from django.utils.translation import override
from jwcrypto import jwt
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from ciam.keys import active_signing_key
from ciam.oauth.id_tokens import verify_id_token
from ciam.services.backchannel_logout import BACKCHANNEL_LOGOUT_EVENT, logout_token_sign
from ciam.services.logout import LogoutRejected, logout_request_validate
from tests.factories import make_client

from .conftest import assert_error_page

NOT_OURS = "The sign-out request carries an ID token we did not issue."


def signed(header_extra: dict, **claims) -> str:
    """A JWT with the provider's active RS256 key, ``header_extra`` in its header."""
    key = active_signing_key("RS256")
    now = int(time.time())
    body = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "aud": "client-1",
        "sub": "7",
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_hex(8),
        **claims,
    }
    header = {"alg": key.algorithm, "kid": key.kid, **header_extra}
    token = jwt.JWT(header=header, claims=json.dumps(body))
    token.make_signed_token(key.jwk)
    return str(token.serialize())


@pytest.fixture
def application(db):
    registered = make_client(
        "web",
        name="Shop",
        redirect_uris=["https://shop.example.test/cb"],
        post_logout_redirect_uris=["https://shop.example.test/bye"],
    )
    return get_application_model().objects.get(client_id=registered.client_id)


# --- verify_id_token --------------------------------------------------------------------------


def test_a_logout_token_does_not_verify_as_an_id_token(application):
    """A real back-channel logout token (typ logout+jwt, an events claim) of this provider."""
    token = logout_token_sign(client=application, sub="7", sid="s-1", jti=secrets.token_hex(8))
    assert verify_id_token(token) is None


@pytest.mark.parametrize("typ", ["logout+jwt", "at+jwt", "secevent+jwt", "JOSE", "", 1])
def test_a_token_typed_otherwise_does_not_verify(db, typ):
    """Header typ present and not JWT: refused, whatever the claims."""
    assert verify_id_token(signed({"typ": typ})) is None


def test_a_token_with_the_logout_event_does_not_verify(db):
    """typ JWT but the logout token's events claim: refused (an untyped logout token)."""
    events = {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert verify_id_token(signed({"typ": "JWT"}, events=events)) is None
    assert verify_id_token(signed({}, events=events)) is None


@pytest.mark.parametrize("header", [{"typ": "JWT"}, {"typ": "jwt"}, {"typ": "application/jwt"}, {}])
def test_an_id_token_typed_jwt_or_untyped_still_verifies(db, header):
    """typ JWT in any case, its media type form, or no typ at all (RFC 7519 5.1)."""
    claims = verify_id_token(signed(header))
    assert claims is not None
    assert claims["sub"] == "7"


# --- end-session and authorization endpoints ----------------------------------------------


def test_end_session_refuses_a_logout_token_hint_as_not_ours(application):
    """The end-session decision refuses it with the same error as any hint we did not
    issue."""
    token = logout_token_sign(client=application, sub="7", sid="s-1", jti=secrets.token_hex(8))
    with override("en"), pytest.raises(LogoutRejected) as rejected:
        logout_request_validate(
            params={
                "id_token_hint": token,
                "post_logout_redirect_uri": "https://shop.example.test/bye",
            }
        )
    assert rejected.value.description == NOT_OURS


def _logout_token_for_session(rp, user, password) -> str:
    """A signed-in browser's logout token, with its ID token's sub, sid and client."""
    request, tokens = rp.sign_in(email=user.email, password=password)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    client = get_application_model().objects.get(client_id=rp.client.client_id)
    return logout_token_sign(
        client=client, sub=claims["sub"], sid=claims.get("sid", ""), jti=secrets.token_hex(8)
    )


def test_logout_with_a_logout_token_hint_is_refused(rp, user, password):
    """Sent as id_token_hint with a registered post_logout_redirect_uri: the error page, no
    redirect, and the browser is still signed in."""
    hint = _logout_token_for_session(rp, user, password)
    response = rp.browser.get(
        rp.metadata["end_session_endpoint"],
        params={
            "id_token_hint": hint,
            "post_logout_redirect_uri": rp.client.post_logout_redirect_uri,
            "state": "s",
        },
    )
    assert_error_page(response, status=(200, 400))
    assert NOT_OURS in response.text
    request = rp.authorization_request(prompt="none")
    assert "error" not in rp.callback_params(rp.authorize(request), request)


def test_authorize_with_a_logout_token_hint_and_prompt_none_is_login_required(rp, user, password):
    """prompt=none with a logout token as id_token_hint, for the very user signed in:
    login_required, as for a hint that does not name them."""
    hint = _logout_token_for_session(rp, user, password)
    request = rp.authorization_request(prompt="none", id_token_hint=hint)
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "login_required"


@pytest.mark.parametrize("missing", ["sub", "aud", "exp", "iat"])
def test_a_jwt_without_an_id_tokens_claims_does_not_verify(db, missing):
    """OIDC Core 2: sub, aud, exp and iat are required; a JWT of ours without one (a consent
    receipt has no sub or aud) is not an ID token."""
    key = active_signing_key("RS256")
    now = int(time.time())
    body = {"iss": oauth2_settings.OIDC_ISS_ENDPOINT, "aud": "client-1", "sub": "7"}
    body.update({"iat": now, "exp": now + 300})
    del body[missing]
    token = jwt.JWT(header={"alg": key.algorithm, "kid": key.kid}, claims=json.dumps(body))
    token.make_signed_token(key.jwk)
    assert verify_id_token(token.serialize()) is None
