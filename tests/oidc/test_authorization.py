"""The authorization endpoint, as the Basic OP plan and RFC 9700 exercise it."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from tests.conftest import Browser, Client, query_of
from tests.factories import UserFactory, make_client

from .conftest import RelyingParty, assert_error_page, backdate_authentication


def authorize_through_login(rp: RelyingParty, request, email: str, password: str) -> str:
    """Run ``request`` insisting that the sign-in form is shown; return the Location."""
    response = rp.browser.follow_local(rp.browser.get(request.url))
    assert response.status_code == 200, response.status_code
    assert "/accounts/login/" in response.url, response.url
    response = rp.browser.login_form(response, email, password)
    assert response.status_code in (302, 303), (response.status_code, response.url)
    return response.headers["Location"]


def signed_in(rp: RelyingParty, user, password: str, **params: str) -> dict:
    """Sign in once through the form; return the verified ID token claims and tokens."""
    request, tokens = rp.sign_in(email=user.email, password=password, **params)
    claims = rp.verify_id_token(
        tokens["id_token"], nonce=request.nonce, access_token=tokens["access_token"]
    ).claims
    return {"claims": claims, "tokens": tokens}


def raw_authorize(browser: Browser, params: dict[str, str]):
    return browser.get("/authorize?" + urlencode(params))


# --- responses carry iss and state -----------------------------------------------------------


def test_code_response_carries_state_and_issuer(rp, user, password, issuer):
    """A successful response has code, the unchanged state and iss = issuer (RFC 9207)."""
    request = rp.authorization_request(state="opaque/state with spaces+&=")
    location = rp.authorize(request, email=user.email, password=password)
    params = query_of(location)
    assert params["code"]
    assert params["state"] == "opaque/state with spaces+&="
    assert params["iss"] == issuer


def test_error_response_carries_state_and_issuer(rp, issuer):
    """Error responses to the client also carry state and iss (RFC 9207 2)."""
    request = rp.authorization_request(prompt="none")
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "login_required"
    assert params["iss"] == issuer


def test_missing_response_type_is_redirected_as_error(browser, web_client):
    """No response_type: the error goes to the registered redirect_uri with state."""
    location = raw_authorize(
        browser,
        {
            "client_id": web_client.client_id,
            "redirect_uri": web_client.redirect_uri,
            "scope": "openid",
            "state": "s-missing",
        },
    )
    assert location.status_code == 302, location.text[:300]
    params = query_of(location.headers["Location"])
    assert location.headers["Location"].startswith(web_client.redirect_uri + "?")
    assert params["error"] in ("unsupported_response_type", "invalid_request")
    assert params["state"] == "s-missing"


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token"])
def test_other_response_types_are_refused(browser, web_client, response_type):
    """Only the code flow is offered: implicit and hybrid types end in an error redirect."""
    response = raw_authorize(
        browser,
        {
            "response_type": response_type,
            "client_id": web_client.client_id,
            "redirect_uri": web_client.redirect_uri,
            "scope": "openid",
            "state": "s-rt",
            "nonce": "n",
        },
    )
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith(web_client.redirect_uri + "?")
        assert "#" not in location
        assert query_of(location)["error"] in (
            "unsupported_response_type",
            "unauthorized_client",
            "invalid_request",
        )
        assert "code" not in query_of(location)


def test_no_nonce_still_gets_a_code(rp, user, password):
    """OIDC Core 3.1.2.1: nonce is optional in the code flow; the ID token then has none."""
    request, tokens = rp.sign_in(email=user.email, password=password, nonce=False)
    assert request.nonce is None
    claims = rp.verify_id_token(tokens["id_token"]).claims
    assert "nonce" not in claims


def test_scope_order_and_parameter_order_do_not_matter(rp, browser, user, password, issuer):
    """Shuffled parameters and scopes listed in another order give the same result."""
    first = signed_in(rp, user, password, scope="openid email profile")
    ordered = [
        ("state", "s-order"),
        ("scope", "profile email openid"),
        ("redirect_uri", rp.client.redirect_uri),
        ("nonce", "n-order"),
        ("client_id", rp.client.client_id),
        ("response_type", "code"),
    ]
    response = browser.get("/authorize?" + urlencode(ordered))
    location = browser.follow_local(response).headers["Location"]
    params = query_of(location)
    assert params["state"] == "s-order"
    tokens = rp.redeem_code(params["code"]).json()
    claims = rp.verify_id_token(tokens["id_token"], nonce="n-order").claims
    assert claims["sub"] == first["claims"]["sub"]
    assert set(tokens["scope"].split()) == {"openid", "email", "profile"}
    userinfo = rp.userinfo(tokens["access_token"]).json()
    assert userinfo["email"] == user.email
    assert userinfo["given_name"] == "Ana"


def test_unknown_parameters_are_ignored(rp, user, password):
    """Parameters the provider does not know are ignored (OIDC Core 3.1.2.1)."""
    request = rp.authorization_request(extra_param="foobar", vendor_flag="1", **{"x-custom": "yes"})
    params = rp.callback_params(rp.authorize(request, email=user.email, password=password), request)
    assert params["code"]
    assert "error" not in params


@pytest.mark.parametrize(
    "extra",
    [
        {"display": "page"},
        {"display": "popup"},
        {"login_hint": "someone@example.com"},
        {"ui_locales": "pt-BR en"},
        {"ui_locales": "xx-YY"},
        {"claims_locales": "pt-BR"},
    ],
    ids=lambda extra: "-".join(f"{key}={value}" for key, value in extra.items()),
)
def test_optional_parameters_are_accepted(rp, user, password, extra):
    """display, login_hint, ui_locales and claims_locales never cause an error."""
    request = rp.authorization_request(**extra)
    location = rp.authorize(request, email=user.email, password=password)
    tokens = rp.exchange(location, request)
    assert rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims["sub"]


def test_login_hint_prefills_the_sign_in_form(rp, browser, user):
    """login_hint with an email address fills the identifier field of the hosted form."""
    request = rp.authorization_request(login_hint=user.email)
    page = browser.follow_local(browser.get(request.url))
    assert page.status_code == 200
    assert f'value="{user.email}"' in page.text


# --- prompt ----------------------------------------------------------------------------------


def test_prompt_login_forces_a_new_authentication(rp, user, password):
    """prompt=login shows the sign-in form again and the ID token has a later auth_time."""
    first = signed_in(rp, user, password)
    earlier = backdate_authentication(rp.browser, 600)
    request = rp.authorization_request(prompt="login")
    location = authorize_through_login(rp, request, user.email, password)
    tokens = rp.exchange(location, request)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["sub"] == first["claims"]["sub"]
    assert claims["auth_time"] > earlier
    assert claims["auth_time"] >= first["claims"]["auth_time"]


def test_prompt_none_without_session_is_login_required(rp):
    """prompt=none with nobody signed in: login_required at the redirect_uri, no page."""
    request = rp.authorization_request(prompt="none")
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "login_required"
    assert "code" not in params


def test_prompt_none_with_session_is_silent(rp, user, password):
    """prompt=none with a session: a code at once, same sub and the same auth_time."""
    first = signed_in(rp, user, password)
    request = rp.authorization_request(prompt="none")
    tokens = rp.exchange(rp.authorize(request), request)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["sub"] == first["claims"]["sub"]
    assert claims["auth_time"] == first["claims"]["auth_time"]


@pytest.mark.parametrize("prompt", ["none login", "login none", "none consent"])
def test_prompt_none_with_another_value_is_invalid(rp, user, password, prompt):
    """OIDC Core 3.1.2.1: prompt=none with any other value is invalid_request."""
    signed_in(rp, user, password)
    request = rp.authorization_request(prompt=prompt)
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "invalid_request"
    assert "code" not in params


def test_prompt_none_for_third_party_without_consent(make_rp, third_party_client, user, password):
    """prompt=none where consent is still missing: consent_required, no page."""
    rp = make_rp(third_party_client)
    request, _ = rp.sign_in(email=user.email, password=password, consent="allow")
    request = rp.authorization_request(prompt="none", scope="openid phone")
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] in ("consent_required", "interaction_required")


# --- max_age, id_token_hint, acr_values ------------------------------------------------------


def test_max_age_elapsed_requires_new_login(rp, user, password):
    """max_age=1 one second after signing in: the form again, a new auth_time."""
    first = signed_in(rp, user, password)
    time.sleep(1.2)
    request = rp.authorization_request(max_age="1")
    location = authorize_through_login(rp, request, user.email, password)
    tokens = rp.exchange(location, request)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["auth_time"] > first["claims"]["auth_time"]
    assert claims["sub"] == first["claims"]["sub"]


def test_max_age_not_elapsed_needs_no_login(rp, user, password):
    """max_age=10000 shortly after signing in: no form, auth_time unchanged and returned."""
    first = signed_in(rp, user, password)
    request = rp.authorization_request(max_age="10000")
    tokens = rp.exchange(rp.authorize(request), request)  # no credentials: no form allowed
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["auth_time"] == first["claims"]["auth_time"]


def test_max_age_zero_forces_login(rp, user, password):
    """max_age=0 after an older sign-in behaves like prompt=login."""
    signed_in(rp, user, password)
    earlier = backdate_authentication(rp.browser, 60)
    request = rp.authorization_request(max_age="0")
    location = authorize_through_login(rp, request, user.email, password)
    tokens = rp.exchange(location, request)
    assert rp.verify_id_token(tokens["id_token"]).claims["auth_time"] > earlier


def test_id_token_hint_with_prompt_none(rp, user, password):
    """id_token_hint of the signed-in user with prompt=none: immediate success, same sub."""
    first = signed_in(rp, user, password)
    request = rp.authorization_request(prompt="none", id_token_hint=first["tokens"]["id_token"])
    tokens = rp.exchange(rp.authorize(request), request)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["sub"] == first["claims"]["sub"]


def test_id_token_hint_of_another_user_with_prompt_none(make_rp, web_client, rp, user, password):
    """id_token_hint naming someone else than the signed-in user: login_required."""
    other = UserFactory(email="someone-else@example.com")
    other_browser = Browser(rp.browser.issuer)
    other_rp = make_rp(web_client, browser=other_browser)
    hint = signed_in(other_rp, other, password)["tokens"]["id_token"]
    other_browser.session.close()
    signed_in(rp, user, password)
    request = rp.authorization_request(prompt="none", id_token_hint=hint)
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "login_required"


def test_acr_values_are_honoured(rp, user, password):
    """acr_values="1 2": the request succeeds and acr is one of the requested values."""
    request, tokens = rp.sign_in(email=user.email, password=password, acr_values="1 2")
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["acr"] in ("1", "2")


# --- redirect_uri and request objects --------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://attacker.example.test/callback",
        "https://rp.example.test/callback/",
        "https://rp.example.test/callback?extra=1",
        "https://rp.example.test/callback#frag",
        "http://rp.example.test/callback",
        "https://rp.example.test:8443/callback",
        "https://rp.example.test/callbackx",
        "https://rp.example.test/Callback",
    ],
)
def test_unregistered_redirect_uri_is_an_error_page(browser, web_client, redirect_uri):
    """Exact redirect_uri matching (RFC 9700 2.1): anything else is a page, never a redirect."""
    response = raw_authorize(
        browser,
        {
            "response_type": "code",
            "client_id": web_client.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": "s",
        },
    )
    assert_error_page(response)


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://RP.example.test/callback", "https://rp.example.test:443/callback"],
)
def test_redirect_uri_is_compared_as_a_plain_string(browser, web_client, redirect_uri):
    """OIDC Core 3.1.2.1 / RFC 3986 6.2.1: simple string comparison, no normalisation."""
    response = raw_authorize(
        browser,
        {
            "response_type": "code",
            "client_id": web_client.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": "s",
        },
    )
    assert_error_page(response)


def test_unknown_client_is_an_error_page(browser, web_client):
    """An unknown client_id is answered with a page, not a redirect."""
    response = raw_authorize(
        browser,
        {
            "response_type": "code",
            "client_id": "no-such-client",
            "redirect_uri": web_client.redirect_uri,
            "scope": "openid",
        },
    )
    assert_error_page(response)


def test_missing_redirect_uri_with_two_registered_is_an_error_page(browser):
    """Without redirect_uri and with two registered, there is nowhere safe to redirect."""
    registered = make_client(
        "web",
        redirect_uris=["https://a.example.test/cb", "https://b.example.test/cb"],
        first_party=True,
    )
    response = raw_authorize(
        browser,
        {"response_type": "code", "client_id": registered.client_id, "scope": "openid"},
    )
    assert_error_page(response)


def test_second_registered_redirect_uri_works(make_rp, user, password):
    """Each registered redirect_uri is accepted when named exactly."""
    registered = make_client(
        "web",
        redirect_uris=["https://a.example.test/cb", "https://b.example.test/cb"],
        first_party=True,
    )
    client = Client(registered.client_id, registered.client_secret, "https://b.example.test/cb", "")
    rp = make_rp(client)
    request, tokens = rp.sign_in(email=user.email, password=password)
    assert rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims["sub"]


def test_authorization_request_by_post(rp, user, password):
    """OIDC Core 3.1.2.1: the request may be sent as a form POST and works like GET."""
    request = rp.authorization_request(unknown="ignored")
    location = rp.authorize(request, email=user.email, password=password, method="POST")
    tokens = rp.exchange(location, request)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["sub"] == user.public_id


def test_authorization_post_with_session_is_silent(rp, user, password):
    """A POSTed request from a signed-in browser also succeeds without a form."""
    first = signed_in(rp, user, password)
    request = rp.authorization_request()
    tokens = rp.exchange(rp.authorize(request, method="POST"), request)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["sub"] == first["claims"]["sub"]


def test_request_parameter_is_refused(rp, metadata):
    """A request object is refused with request_not_supported (discovery says false)."""
    assert metadata["request_parameter_supported"] is False
    unsigned = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."
    request = rp.authorization_request(request=unsigned)
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "request_not_supported"
    assert "code" not in params


def test_request_uri_parameter_is_refused(rp, metadata):
    """request_uri is refused with request_uri_not_supported (discovery says false)."""
    assert metadata["request_uri_parameter_supported"] is False
    request = rp.authorization_request(request_uri="https://rp.example.test/request.jwt")
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "request_uri_not_supported"
    assert "code" not in params


@pytest.mark.parametrize("response_mode", ["fragment", "form_post", "jwt"])
def test_unsupported_response_mode_is_refused(rp, response_mode):
    """response_mode other than query is refused, never silently changed."""
    request = rp.authorization_request(response_mode=response_mode)
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "invalid_request"
