"""OpenID Connect RP-Initiated Logout 1.0, as its certification plan exercises it."""

from __future__ import annotations

import json
import time
from base64 import urlsafe_b64encode

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import query_of

from .conftest import assert_error_page


@pytest.fixture
def session(rp, user, password):
    """A signed-in browser and the tokens and ID token claims of its sign-in."""
    request, tokens = rp.sign_in(
        email=user.email, password=password, scope="openid email offline_access"
    )
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    return {"tokens": tokens, "claims": claims}


def logout(rp, method: str = "GET", **params: str):
    url = rp.metadata["end_session_endpoint"]
    if method == "POST":
        return rp.browser.post(url, data=params)
    return rp.browser.get(url, params=params)


def silent_authorization_error(rp) -> str | None:
    """prompt=none now: the error it ends with, or None when a code came back."""
    request = rp.authorization_request(prompt="none")
    params = rp.callback_params(rp.authorize(request), request)
    return params.get("error")


def b64(data: dict) -> str:
    return urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_logout_with_hint_redirects_with_state(rp, session, method):
    """Valid id_token_hint and registered post_logout_redirect_uri: signed out, redirected
    there with state; afterwards prompt=none fails with login_required."""
    assert silent_authorization_error(rp) is None  # still signed in before
    response = logout(
        rp,
        method,
        id_token_hint=session["tokens"]["id_token"],
        post_logout_redirect_uri=rp.client.post_logout_redirect_uri,
        state="st-42",
    )
    assert response.status_code in (302, 303), response.text[:300]
    location = response.headers["Location"]
    assert location.startswith(rp.client.post_logout_redirect_uri + "?")
    assert query_of(location) == {"state": "st-42"}
    assert silent_authorization_error(rp) == "login_required"


def test_logout_with_hint_and_matching_client_id(rp, session):
    """client_id naming the hint's audience is accepted alongside the hint."""
    response = logout(
        rp,
        id_token_hint=session["tokens"]["id_token"],
        client_id=rp.client.client_id,
        post_logout_redirect_uri=rp.client.post_logout_redirect_uri,
    )
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == rp.client.post_logout_redirect_uri


def test_logout_ends_session_tokens_but_keeps_offline_ones(rp, user, password):
    """Tokens issued in the session stop working at logout; offline_access ones stay
    (OIDC Core 11)."""
    _, online = rp.sign_in(email=user.email, password=password, scope="openid email")
    request = rp.authorization_request(scope="openid email offline_access")
    offline = rp.exchange(rp.authorize(request), request)
    response = logout(
        rp,
        id_token_hint=online["id_token"],
        post_logout_redirect_uri=rp.client.post_logout_redirect_uri,
    )
    assert response.status_code in (302, 303)
    assert rp.userinfo(online["access_token"]).status_code == 401
    assert rp.refresh_error(online["refresh_token"]) == "invalid_grant"
    assert rp.userinfo(offline["access_token"]).status_code == 200
    assert rp.refresh(offline["refresh_token"])["access_token"]


@pytest.mark.parametrize(
    "redirect",
    [
        "https://attacker.example.test/bye",
        "https://rp.example.test/bye?extra=1",
        "https://rp.example.test/bye/",
        "https://rp.example.test/callback",
    ],
    ids=["unregistered", "added-query", "trailing-slash", "login-redirect-uri"],
)
def test_unregistered_post_logout_redirect_uri_is_not_followed(rp, session, redirect):
    """A post_logout_redirect_uri that is not registered exactly: no redirect to it."""
    response = logout(
        rp,
        id_token_hint=session["tokens"]["id_token"],
        post_logout_redirect_uri=redirect,
        state="s",
    )
    assert_error_page(response, status=(200, 400))


def test_hint_signed_by_a_foreign_key_is_refused(rp, session):
    """An id_token_hint with the right claims and kid but another key's signature: no
    redirect, and the session is not ended by it."""
    claims = dict(session["claims"])
    claims["iat"] = int(time.time())
    kid = rp.verify_id_token(session["tokens"]["id_token"]).header["kid"]
    forged = jwt.encode(
        {"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, RSAKey.generate_key(2048)
    )
    response = logout(
        rp,
        id_token_hint=forged,
        post_logout_redirect_uri=rp.client.post_logout_redirect_uri,
        state="s",
    )
    assert_error_page(response, status=(200, 400))
    assert silent_authorization_error(rp) is None


def test_hint_with_alg_none_is_refused(rp, session):
    """An unsigned (alg none) id_token_hint is refused: no redirect."""
    unsigned = b64({"alg": "none", "typ": "JWT"}) + "." + b64(session["claims"]) + "."
    response = logout(
        rp,
        id_token_hint=unsigned,
        post_logout_redirect_uri=rp.client.post_logout_redirect_uri,
        state="s",
    )
    assert_error_page(response, status=(200, 400))
    assert silent_authorization_error(rp) is None


def test_hint_of_another_client_with_this_clients_uri_is_refused(
    rp, make_rp, other_web_client, user, password
):
    """The post-logout URI must be registered by the hint's own client."""
    other = make_rp(other_web_client)
    _, tokens = other.sign_in(email=user.email, password=password)
    response = logout(
        rp,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=rp.client.post_logout_redirect_uri,
    )
    assert_error_page(response, status=(200, 400))


def test_hint_with_conflicting_client_id_is_refused(rp, session, other_web_client):
    """client_id that is not the hint's audience: refused, no redirect."""
    response = logout(
        rp,
        id_token_hint=session["tokens"]["id_token"],
        client_id=other_web_client.client_id,
        post_logout_redirect_uri=other_web_client.post_logout_redirect_uri,
    )
    assert_error_page(response, status=(200, 400))


def test_redirect_without_hint_asks_for_confirmation(rp, session):
    """No id_token_hint but client_id and a registered URI: a confirmation page (no
    redirect); confirming signs out and then redirects with state."""
    response = logout(
        rp,
        client_id=rp.client.client_id,
        post_logout_redirect_uri=rp.client.post_logout_redirect_uri,
        state="confirm-me",
    )
    assert_error_page(response, status=200)
    assert 'name="confirm"' in response.text
    assert silent_authorization_error(rp) is None  # not signed out before confirming
    confirmed = rp.browser.post(
        "/logout/confirm",
        data={"csrfmiddlewaretoken": rp.browser.csrf(response.text), "confirm": "yes"},
        headers={"Referer": response.url},
    )
    assert confirmed.status_code in (302, 303)
    assert confirmed.headers["Location"] == rp.client.post_logout_redirect_uri + "?state=confirm-me"
    assert silent_authorization_error(rp) == "login_required"


def test_declining_the_confirmation_keeps_the_session(rp, session):
    """Answering "stay signed in" on the confirmation page keeps the user signed in."""
    response = logout(
        rp,
        client_id=rp.client.client_id,
        post_logout_redirect_uri=rp.client.post_logout_redirect_uri,
    )
    declined = rp.browser.post(
        "/logout/confirm",
        data={"csrfmiddlewaretoken": rp.browser.csrf(response.text), "confirm": "no"},
        headers={"Referer": response.url},
    )
    assert declined.status_code in (302, 303)
    assert not declined.headers["Location"].startswith(rp.client.post_logout_redirect_uri)
    assert silent_authorization_error(rp) is None


def test_redirect_without_hint_or_client_is_refused(rp, session):
    """A post_logout_redirect_uri with nothing naming the client: no redirect."""
    response = logout(rp, post_logout_redirect_uri=rp.client.post_logout_redirect_uri)
    assert_error_page(response, status=(200, 400))


@pytest.mark.parametrize("params", [{}, {"state": "only-state"}], ids=["no-params", "only-state"])
def test_logout_without_parameters_asks_then_shows_logged_out_page(rp, session, params):
    """No parameters, or only state: the user is asked first (a bare link from another site
    cannot sign them out); after confirming, signed out and shown the logged-out page."""
    response = logout(rp, **params)
    assert response.status_code == 200
    assert "/logout/confirm" in response.text
    assert silent_authorization_error(rp) is None  # still signed in until confirmed
    confirmed = rp.browser.post(
        "/logout/confirm",
        data={"csrfmiddlewaretoken": rp.browser.csrf(response.text), "confirm": "yes"},
        headers={"Referer": response.url},
    )
    assert confirmed.status_code in (302, 303)
    assert not confirmed.headers["Location"].startswith("https://rp.example.test")
    page = rp.browser.follow_local(confirmed)
    assert page.status_code == 200
    assert "/logged-out" in page.url
    assert silent_authorization_error(rp) == "login_required"


def test_logout_without_session_still_redirects(rp, session, browser):
    """Logging out twice with a valid hint: the second time there is nothing to end, and the
    RP still gets its redirect (RP-Initiated Logout 2)."""
    params = {
        "id_token_hint": session["tokens"]["id_token"],
        "post_logout_redirect_uri": rp.client.post_logout_redirect_uri,
        "state": "again",
    }
    assert logout(rp, **params).status_code in (302, 303)
    again = logout(rp, **params)
    assert again.status_code in (302, 303)
    assert query_of(again.headers["Location"])["state"] == "again"


@pytest.mark.django_db
def test_client_id_longer_than_any_names_no_client_even_with_a_real_prefix():
    """A client_id over 100 characters names no client, not the client whose id is its
    first 100 characters (the validator refuses such a client_id everywhere else)."""
    from ciam.services.logout import LogoutRejected, logout_request_validate
    from tests.factories import make_client

    real = make_client(
        "web",
        client_id="c" * 100,
        redirect_uris=["https://rp.example.test/cb"],
        post_logout_redirect_uris=["https://rp.example.test/bye"],
    )
    params = {"post_logout_redirect_uri": "https://rp.example.test/bye"}
    decision = logout_request_validate(params={**params, "client_id": real.client_id})
    assert decision.redirect_url.startswith("https://rp.example.test/bye")
    with pytest.raises(LogoutRejected):
        logout_request_validate(params={**params, "client_id": real.client_id + "x"})


@pytest.mark.django_db
def test_hint_about_someone_else_than_the_signed_in_user_asks_first(settings):
    """RP-Initiated Logout 1.0 section 2: a valid id_token_hint naming another End-User than
    the one signed in is no reason to sign that one out unasked; with the right user, or
    nobody signed in, the hint is enough."""
    from oauth2_provider.models import get_application_model

    from ciam.oauth.id_tokens import sign_id_token
    from ciam.services.logout import logout_request_validate
    from ciam.subjects import subject_for
    from tests.factories import UserFactory, make_client

    registered = make_client(
        "web",
        redirect_uris=["https://rp.example.test/cb"],
        post_logout_redirect_uris=["https://rp.example.test/bye"],
    )
    client = get_application_model().objects.get(client_id=registered.client_id)
    alice, bob = UserFactory(), UserFactory()
    now = int(time.time())
    hint = sign_id_token(
        {
            "iss": settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"],
            "sub": subject_for(alice, client),
            "aud": client.client_id,
            "iat": now,
            "exp": now + 60,
        },
        algorithm="RS256",
    )
    params = {"id_token_hint": hint, "post_logout_redirect_uri": "https://rp.example.test/bye"}
    assert not logout_request_validate(params=params, user=alice).needs_confirmation
    assert not logout_request_validate(params=params, user=None).needs_confirmation
    asked = logout_request_validate(params=params, user=bob)
    assert asked.needs_confirmation
    assert asked.redirect_url.startswith("https://rp.example.test/bye")
