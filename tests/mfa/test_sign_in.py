"""Signing in with the second factor through the hosted pages, up to the ID token."""

from __future__ import annotations

from django_otp.plugins.otp_static.models import StaticToken

from accounts.mfa.constants import REMEMBER_COOKIE_NAME
from tests.conftest import Browser
from tests.factories import UserFactory

from .conftest import (
    VERIFY_PATH,
    auth_params,
    client_location,
    enrol,
    enter_code,
    id_token_claims,
    page_error,
    sign_out,
    start,
)


def test_password_then_code_gives_acr_2_with_otp_and_mfa(
    browser, enrolled, password, web_client, issuer
):
    """A user with an authenticator app is asked for a code after the password; the client
    gets a code whose ID token says acr "2" and amr pwd, otp, mfa."""
    params = auth_params(web_client)
    page = start(browser, params, enrolled.email, password)
    assert page.status_code == 200
    assert VERIFY_PATH in page.url
    assert "Two-step verification" in page.text
    assert 'autocomplete="one-time-code"' in page.text

    response = enter_code(browser, page, enrolled.code())
    answer = client_location(response, web_client)
    assert answer["state"] == params["state"]
    assert answer["iss"] == issuer
    claims = id_token_claims(issuer, web_client, answer["code"])
    assert claims["acr"] == "2"
    assert {"pwd", "otp", "mfa"} <= set(claims["amr"])
    assert claims["sub"] == enrolled.user.public_id
    assert claims["nonce"] == params["nonce"]


def test_the_factor_lasts_for_the_session(browser, enrolled, password, web_client, issuer):
    """Once the session has the second factor, later requests are not asked for it again,
    even with acr_values=2."""
    page = start(browser, auth_params(web_client), enrolled.email, password)
    client_location(enter_code(browser, page, enrolled.code()), web_client)

    response = start(browser, auth_params(web_client, acr_values="2"))
    answer = client_location(response, web_client)
    assert id_token_claims(issuer, web_client, answer["code"])["acr"] == "2"


def test_users_without_an_authenticator_are_not_asked(browser, user, password, web_client):
    """No authenticator app, no demand from the client: straight to the client, acr 1."""
    response = start(browser, auth_params(web_client), user.email, password)
    assert "code" in client_location(response, web_client)


def test_recovery_code_works_once(issuer, enrolled, password, web_client, no_otp_backoff):
    """A recovery code (typed in capitals, with its hyphen) replaces the app once; the same
    code is refused afterwards."""
    code = enrolled.recovery_codes[0]
    assert StaticToken.objects.filter(device__user=enrolled.user).count() == 10

    first = Browser(issuer)
    page = start(first, auth_params(web_client), enrolled.email, password)
    answer = client_location(enter_code(first, page, code.upper()), web_client)
    assert id_token_claims(issuer, web_client, answer["code"])["acr"] == "2"
    assert StaticToken.objects.filter(device__user=enrolled.user).count() == 9

    second = Browser(issuer)
    page = start(second, auth_params(web_client), enrolled.email, password)
    again = enter_code(second, page, code)
    assert again.status_code == 200
    assert VERIFY_PATH in again.url
    assert page_error(again) == (
        "That code is not right. Check your authenticator app and try again."
    )


def test_wrong_and_reused_codes_are_refused_with_a_message(
    browser, issuer, enrolled, password, web_client, no_otp_backoff
):
    """A wrong code and a code that was already used each keep the user on the page with
    a message saying which; the page asks again."""
    page = start(browser, auth_params(web_client), enrolled.email, password)
    wrong = enter_code(browser, page, "000000" if enrolled.code() != "000000" else "111111")
    assert wrong.status_code == 200
    assert page_error(wrong) == (
        "That code is not right. Check your authenticator app and try again."
    )
    used = enrolled.code()
    client_location(enter_code(browser, wrong, used), web_client)

    other = Browser(issuer)
    page = start(other, auth_params(web_client), enrolled.email, password)
    reused = enter_code(other, page, used)
    assert reused.status_code == 200
    assert page_error(reused) == (
        "This code was already used. Wait for the next code in your authenticator app."
    )


def test_codes_of_another_shape_are_refused(browser, enrolled, password, web_client):
    """Letters, short codes and empty input do not pass."""
    page = start(browser, auth_params(web_client), enrolled.email, password)
    for value in ("12345", "abcdef", "1234567"):
        page = enter_code(browser, page, value)
        assert page.status_code == 200
        assert VERIFY_PATH in page.url


def test_too_many_wrong_codes_answer_429(
    issuer, enrolled, password, web_client, no_otp_backoff, settings
):
    """Five wrong codes in five minutes: the sixth attempt, even a right code, gets HTTP 429
    with Retry-After and a readable page; another account from the same address too."""
    browser = Browser(issuer)
    page = start(browser, auth_params(web_client), enrolled.email, password)
    for _ in range(5):
        page = enter_code(browser, page, "999999" if enrolled.code() != "999999" else "888888")
        assert page.status_code == 200
    blocked = enter_code(browser, page, enrolled.code())
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 300
    assert "Too many attempts" in blocked.text
    assert "try again in 5 minutes" in blocked.text

    neighbour = enrol(UserFactory())
    other = Browser(issuer)
    page = start(other, auth_params(web_client), neighbour.email, password)
    assert enter_code(other, page, neighbour.code()).status_code == 429


def test_remembered_browser_skips_the_code_but_not_a_step_up(
    browser, enrolled, password, web_client, issuer
):
    """ "Don't ask again on this browser": the next sign-in there needs the password only
    (acr stays 1: no second factor was used); a client asking acr_values=2 still gets the
    code page, and then acr 2."""
    page = start(browser, auth_params(web_client), enrolled.email, password)
    assert "Don&#x27;t ask again on this browser for 30 days" in page.text
    posted = browser.post(
        page.url,
        data={
            "csrfmiddlewaretoken": browser.csrf(page.text),
            "code": enrolled.code(),
            "remember": "on",
        },
        headers={"Referer": page.url},
    )
    set_cookie = posted.headers["Set-Cookie"]
    assert f"{REMEMBER_COOKIE_NAME}=" in set_cookie
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie
    assert "Max-Age=2592000" in set_cookie  # 30 days
    assert "Secure" not in set_cookie  # the test issuer is http; over https it is Secure
    client_location(browser.follow_local(posted), web_client)

    sign_out(browser)
    response = start(browser, auth_params(web_client), enrolled.email, password)
    answer = client_location(response, web_client)
    claims = id_token_claims(issuer, web_client, answer["code"])
    assert claims["acr"] == "1"
    assert claims["amr"] == ["pwd"]

    page = start(browser, auth_params(web_client, acr_values="2"))
    assert VERIFY_PATH in page.url
    assert "asks you to confirm it is you with a second step" in page.text
    answer = client_location(enter_code(browser, page, enrolled.code()), web_client)
    assert id_token_claims(issuer, web_client, answer["code"])["acr"] == "2"
