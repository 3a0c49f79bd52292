"""Step-up: clients demanding an authentication level (acr_values, claims, min_acr)."""

from __future__ import annotations

import json
import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ciam.models import Application

from .conftest import (
    VERIFY_PATH,
    auth_params,
    client_location,
    enter_code,
    id_token_claims,
    sign_out,
    start,
    submit,
    totp_code_for_key,
)

ESSENTIAL_ACR_2 = json.dumps({"id_token": {"acr": {"essential": True, "values": ["2"]}}})


def set_min_acr(client, value: str) -> None:
    """The operator's change, as admin saves it (a saved client is re-read at once)."""
    application = Application.objects.get(client_id=client.client_id)
    application.min_acr = value
    application.save()


def remembered_session(browser, enrolled, password, client) -> None:
    """Leave ``browser`` signed in with the password only (acr 1) on a remembered browser."""
    page = start(browser, auth_params(client), enrolled.email, password)
    client_location(enter_code(browser, page, enrolled.code(), remember=True), client)
    sign_out(browser)
    client_location(start(browser, auth_params(client), enrolled.email, password), client)


def test_user_without_authenticator_asked_for_acr_2_sees_set_up_page_and_can_cancel(
    browser, user, password, web_client
):
    """acr_values=2 for a user with no second factor: a page explains that the application
    requires two-step verification, links to setting it up, and "go back" ends the request
    with access_denied (and the state) at the client."""
    params = auth_params(web_client, acr_values="2")
    page = start(browser, params, user.email, password)
    assert page.status_code == 200
    assert VERIFY_PATH in page.url
    assert "More security needed" in page.text
    assert "requires two-step verification" in page.text
    assert 'href="/account/mfa/totp/?next=' in page.text

    answer = client_location(submit(browser, page, action="cancel"), web_client)
    assert answer["error"] == "access_denied"
    assert answer["state"] == params["state"]
    assert "code" not in answer


def test_set_up_during_the_request_then_continue_with_acr_2(
    browser, user, password, web_client, issuer
):
    """From the "more security needed" page the user sets up an authenticator app, sees
    the recovery codes, continues, and the client gets acr 2 without a second code prompt."""
    page = start(browser, auth_params(web_client, acr_values="2"), user.email, password)
    enrol_url = re.search(r'href="(/account/mfa/totp/\?next=[^"]+)"', page.text).group(1)
    page = browser.get(enrol_url.replace("&amp;", "&"))
    assert page.status_code == 200
    key = re.search(r'id="totp-key"[^>]*>([A-Z2-7 ]+)<', page.text).group(1)
    codes_page = submit(browser, page, code=totp_code_for_key(key))
    assert codes_page.status_code == 200
    assert "/account/mfa/recovery-codes/" in codes_page.url
    assert len(re.findall(r"<li>[a-z2-7]{5}-[a-z2-7]{5}</li>", codes_page.text)) == 10
    continue_url = re.search(r'<a class="button" href="([^"]+)">Continue</a>', codes_page.text)
    assert continue_url.group(1).startswith(VERIFY_PATH)

    answer = client_location(browser.follow_local(browser.get(continue_url.group(1))), web_client)
    claims = id_token_claims(issuer, web_client, answer["code"])
    assert claims["acr"] == "2"
    assert {"pwd", "otp", "mfa"} <= set(claims["amr"])


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"acr_values": "2"}, id="acr_values"),
        pytest.param({"claims": ESSENTIAL_ACR_2}, id="essential-acr-claim"),
    ],
)
def test_prompt_none_that_needs_a_factor_the_user_lacks_is_unmet(
    browser, user, password, web_client, extra
):
    """prompt=none with a demand the user's methods cannot reach: the client gets
    unmet_authentication_requirements (OpenID Connect Unmet Authentication Requirements 1.0),
    no page."""
    client_location(start(browser, auth_params(web_client), user.email, password), web_client)
    params = auth_params(web_client, prompt="none", **extra)
    answer = client_location(browser.get("/authorize", params=params), web_client)
    assert answer["error"] == "unmet_authentication_requirements"
    assert answer["state"] == params["state"]


@pytest.mark.parametrize(
    "how",
    ["min_acr", "acr_values", "essential_claim", "essential_value"],
)
def test_password_only_session_of_a_user_with_an_authenticator_steps_up(
    browser, enrolled, password, web_client, issuer, how
):
    """A user with an authenticator app, signed in with the password only (remembered
    browser), is asked for the code when the client's min_acr, acr_values or an essential
    acr claim ("values" or "value") demands "2"; then the ID token has acr 2."""
    remembered_session(browser, enrolled, password, web_client)
    extra: dict[str, str] = {}
    if how == "min_acr":
        set_min_acr(web_client, "2")
    elif how == "acr_values":
        extra["acr_values"] = "2 phr"
    elif how == "essential_claim":
        extra["claims"] = ESSENTIAL_ACR_2
    else:
        extra["claims"] = json.dumps({"id_token": {"acr": {"essential": True, "value": "2"}}})

    page = start(browser, auth_params(web_client, **extra))
    assert page.status_code == 200
    assert VERIFY_PATH in page.url
    assert "asks you to confirm it is you with a second step" in page.text
    answer = client_location(enter_code(browser, page, enrolled.code()), web_client)
    claims = id_token_claims(issuer, web_client, answer["code"])
    assert claims["acr"] == "2"
    assert "otp" in claims["amr"]


def test_prompt_none_with_a_weaker_session_gets_login_required(
    browser, enrolled, password, web_client
):
    """prompt=none and acr_values=2 on a password-only session of a user who has an
    authenticator app: login_required to the client (the factor needs the user), while
    prompt=none without a demand succeeds silently on the remembered browser."""
    remembered_session(browser, enrolled, password, web_client)
    params = auth_params(web_client, prompt="none", acr_values="2")
    answer = client_location(browser.get("/authorize", params=params), web_client)
    assert answer["error"] == "login_required"
    assert answer["state"] == params["state"]

    silent = client_location(
        browser.get("/authorize", params=auth_params(web_client, prompt="none")), web_client
    )
    assert "code" in silent


def test_prompt_none_without_the_remembered_browser_gets_login_required(
    browser, enrolled, password, web_client
):
    """A session whose second factor is still missing (the code page was left) cannot be
    completed silently: login_required."""
    page = start(browser, auth_params(web_client), enrolled.email, password)
    assert VERIFY_PATH in page.url
    answer = client_location(
        browser.get("/authorize", params=auth_params(web_client, prompt="none")), web_client
    )
    assert answer["error"] == "login_required"


def test_passkey_level_cannot_be_reached_with_an_authenticator(
    browser, enrolled, password, web_client
):
    """min_acr "phr" (phishing-resistant): an authenticator app does not reach it; the page
    offers signing in again (with a passkey) or going back (access_denied), no set-up of an
    authenticator app, and prompt=none gets unmet_authentication_requirements."""
    set_min_acr(web_client, "phr")
    page = start(browser, auth_params(web_client), enrolled.email, password)
    assert "More security needed" in page.text
    assert "requires you to sign in with a passkey" in page.text
    assert "/account/mfa/totp/" not in page.text
    assert 'href="/accounts/login/?next=%2Fauthorize%2Fresume%2F' in page.text
    assert client_location(submit(browser, page, action="cancel"), web_client)["error"] == (
        "access_denied"
    )

    answer = client_location(
        browser.get("/authorize", params=auth_params(web_client, prompt="none")), web_client
    )
    assert answer["error"] == "unmet_authentication_requirements"


def test_essential_acr_of_unknown_values_fails(browser, user, password, web_client):
    """An essential acr claim naming only levels this provider does not offer cannot be met
    (OIDC Core 5.5.1.1: treated as a failed authentication)."""
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:x:gold"]}}})
    page = start(browser, auth_params(web_client, claims=claims), user.email, password)
    assert "requires a way of signing in that this service does not offer" in page.text


def test_voluntary_acr_values_are_not_demands(browser, user, password, web_client):
    """acr_values "1 2" (any is acceptable, OIDC Core 3.1.2.1) and unknown values alone do
    not force a second factor on a user without one."""
    for values in ("1 2", "urn:x:silver"):
        sign_out(browser)
        response = start(browser, auth_params(web_client, acr_values=values), user.email, password)
        assert "code" in client_location(response, web_client)


def test_confirmed_device_only_counts(browser, user, password, web_client):
    """An authenticator app that was never confirmed does not make sign-in ask for a code."""
    TOTPDevice.objects.create(user=user, name="half set up", confirmed=False)
    response = start(browser, auth_params(web_client), user.email, password)
    assert "code" in client_location(response, web_client)
