"""A cancelled or failed social sign-in within an authorization request keeps the request.

The upstream provider is tests/social/idp.py on loopback. A cancel is the provider's
redirect back with ``error=access_denied`` (RFC 6749 4.1.2.1); a failure is a callback whose
``state`` matches nothing, or a token endpoint that refuses the code. Either way the page
offers "Try again" (the sign-in page resuming the request) and "Go back to <client>" (the
client receives access_denied with its state).
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode, urljoin

import pytest
import requests

from tests.conftest import Browser, query_of
from tests.factories import PASSWORD, UserFactory

from .conftest import PROVIDER_NAME
from .helpers import auth_params, follow, provider_button, redeem


def _start_social_sign_in(browser: Browser, client) -> tuple[dict[str, str], str]:
    """From an authorization request, press the provider button; the URL of the upstream
    authorization request it sends the browser to (not followed)."""
    params = auth_params(client)
    page = browser.follow_local(browser.get("/authorize?" + urlencode(params)))
    assert "/accounts/login/" in page.url
    action = provider_button(page.text, PROVIDER_NAME)
    assert action
    response = browser.post(
        urljoin(page.url, action),
        data={"csrfmiddlewaretoken": browser.csrf(page.text)},
        headers={"Referer": page.url},
    )
    response = browser.follow_local(response)
    assert response.status_code == 302, response.status_code
    return params, response.headers["Location"]


def _callback(browser: Browser, upstream: str, **answer: str) -> requests.Response:
    """The provider's answer, sent to the redirect_uri of the upstream request."""
    sent = query_of(upstream)
    response = browser.get(sent["redirect_uri"] + "?" + urlencode(answer))
    return browser.follow_local(response)


def _cancelled(browser: Browser, client) -> tuple[dict[str, str], requests.Response]:
    params, upstream = _start_social_sign_in(browser, client)
    page = _callback(browser, upstream, error="access_denied", state=query_of(upstream)["state"])
    return params, page


def _actions(page: requests.Response) -> tuple[str, str, str]:
    """The "Try again" link, the "Go back" form's action and the button's label."""
    try_again = re.search(r'<a class="button" href="([^"]+)">Try again</a>', page.text)
    back = re.search(r'<form class="form" method="post" action="([^"]+)"', page.text)
    button = re.search(r'<button[^>]*type="submit">\s*([^<]+?)\s*</button>', page.text)
    assert try_again, page.text
    assert back
    assert button
    return html.unescape(try_again.group(1)), html.unescape(back.group(1)), button.group(1)


def _back_to_client(browser: Browser, page: requests.Response) -> str:
    _try_again, back, _label = _actions(page)
    response = browser.post(
        urljoin(page.url, back),
        data={"csrfmiddlewaretoken": browser.csrf(page.text)},
        headers={"Referer": page.url},
    )
    assert response.status_code == 302
    return response.headers["Location"]


def test_a_cancel_upstream_offers_to_try_again_or_go_back_to_the_client(
    browser, web_client, social_app, idp
):
    """A cancel at the provider shows the cancelled page with both ways: "Try again" to the
    sign-in page resuming the request, and "Go back to <client>"."""
    _params, page = _cancelled(browser, web_client)
    assert page.status_code == 200
    assert "Sign-in cancelled" in page.text
    try_again, back, label = _actions(page)
    assert try_again.startswith("/accounts/login/?next=%2Fauthorize%2Fresume%2F")
    assert "/ended/" in back
    assert label == "Go back to Test web client"


def test_try_again_after_a_cancel_then_signing_in_issues_the_code(
    browser, web_client, social_app, idp, issuer
):
    """After a cancel, "Try again" and a password sign-in carry on the same request: the
    client receives a code with its state."""
    user = UserFactory()
    params, page = _cancelled(browser, web_client)
    try_again, _back, _label = _actions(page)
    login = browser.follow_local(browser.get(try_again))
    assert "/accounts/login/" in login.url
    response = browser.login_form(login, user.email, PASSWORD)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert query_of(location)["state"] == params["state"]
    claims = redeem(issuer, web_client, location)
    assert claims["sub"] == user.public_id


def test_try_again_with_the_provider_after_a_cancel_issues_the_code(
    browser, web_client, social_app, idp, issuer
):
    """ "Try again" leads to a sign-in page whose provider button also resumes the request."""
    params, page = _cancelled(browser, web_client)
    try_again, _back, _label = _actions(page)
    login = browser.follow_local(browser.get(try_again))
    action = provider_button(login.text, PROVIDER_NAME)
    assert action
    response = browser.post(
        urljoin(login.url, action),
        data={"csrfmiddlewaretoken": browser.csrf(login.text)},
        headers={"Referer": login.url},
    )
    response = follow(browser, response, idp.url)
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["state"] == params["state"]
    assert redeem(issuer, web_client, response.headers["Location"])["amr"] == ["fed"]


def test_going_back_after_a_cancel_returns_access_denied_to_the_client(
    browser, web_client, social_app, idp
):
    """ "Go back to <client>" ends the request: access_denied with the client's state at its
    redirect_uri (RFC 6749 4.1.2.1), and the request is gone."""
    params, page = _cancelled(browser, web_client)
    location = _back_to_client(browser, page)
    assert location.startswith(web_client.redirect_uri + "?")
    answer = query_of(location)
    assert answer["error"] == "access_denied"
    assert answer["state"] == params["state"]
    again = browser.post(
        page.url,
        data={"csrfmiddlewaretoken": browser.csrf(page.text)},
        headers={"Referer": page.url},
    )
    assert again.status_code == 400
    assert "expired" in again.text


@pytest.mark.parametrize("failure", ["bad_state", "token_error"])
def test_a_failed_social_sign_in_offers_both_ways(browser, web_client, social_app, idp, failure):
    """A callback with a state that matches nothing, or a token endpoint that refuses the
    code, shows the error page with both ways; going back returns access_denied."""
    params, upstream = _start_social_sign_in(browser, web_client)
    if failure == "bad_state":
        page = _callback(browser, upstream, code="whatever", state="not-the-state")
    else:
        idp.client_secret = "not-the-registered-secret"  # /token answers invalid_client
        page = follow(browser, browser.session.get(upstream, allow_redirects=False, timeout=10))
    assert page.status_code == 200
    assert "Sign-in did not work" in page.text
    try_again, _back, _label = _actions(page)
    assert try_again.startswith("/accounts/login/?next=%2Fauthorize%2Fresume%2F")
    answer = query_of(_back_to_client(browser, page))
    assert answer["error"] == "access_denied"
    assert answer["state"] == params["state"]


def test_try_again_after_a_failure_then_signing_in_issues_the_code(
    browser, web_client, social_app, idp, issuer
):
    """After a failed social sign-in, "Try again" and a password sign-in issue the code."""
    user = UserFactory()
    params, upstream = _start_social_sign_in(browser, web_client)
    page = _callback(browser, upstream, code="whatever", state="not-the-state")
    try_again, _back, _label = _actions(page)
    response = browser.login_form(
        browser.follow_local(browser.get(try_again)), user.email, PASSWORD
    )
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["state"] == params["state"]
    assert redeem(issuer, web_client, response.headers["Location"])["sub"] == user.public_id


def test_outside_an_authorization_request_the_pages_stay_as_they_are(browser, social_app, idp):
    """A social sign-in started from the plain sign-in page and cancelled shows allauth's
    cancelled page with its one link back to sign-in."""
    page = browser.get("/accounts/login/")
    action = provider_button(page.text, PROVIDER_NAME)
    assert action
    response = browser.post(
        urljoin(page.url, action),
        data={"csrfmiddlewaretoken": browser.csrf(page.text)},
        headers={"Referer": page.url},
    )
    upstream = browser.follow_local(response).headers["Location"]
    page = _callback(browser, upstream, error="access_denied", state=query_of(upstream)["state"])
    assert page.status_code == 200
    assert "Sign-in cancelled" in page.text
    assert "Back to sign-in" in page.text
    assert "Try again" not in page.text


def test_an_unknown_request_on_the_ended_page_is_the_expired_page(client, db):
    """The ended page for a request this session does not hold is the readable expired
    page, for GET and POST."""
    assert client.get("/account/email-sign-in/social/ended/nope/").status_code == 400
    response = client.post("/account/email-sign-in/social/ended/nope/")
    assert response.status_code in (400, 403)


def _cancel_upstream(params: dict[str, str]) -> tuple[int, dict[str, str]]:
    """The upstream provider's answer when the person presses "Cancel" there."""
    answer = urlencode({"error": "access_denied", "state": params.get("state", "")})
    return 302, {"Location": f"{params.get('redirect_uri', '')}?{answer}"}


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en-US", "pt-BR"])
def test_the_cancelled_page_in_a_browser(open_tab, web_client, social_app, idp, locale):
    """In Chromium, a cancel upstream lands on the cancelled page with its two ways,
    readable at desktop and phone width; "Go back" brings access_denied to the client."""
    tab = open_tab(locale=locale)
    idp.authorize = _cancel_upstream  # type: ignore[method-assign]
    params = auth_params(web_client)
    tab.authorize(params)
    page = tab.page
    page.get_by_role("button", name=re.compile(PROVIDER_NAME)).click()
    page.wait_for_url(re.compile(r".*/account/email-sign-in/social/ended/.*"))
    english = locale == "en-US"
    try_again = "Try again" if english else "Tentar novamente"
    back = "Go back to Test web client" if english else "Voltar para Test web client"
    assert page.get_by_role("link", name=try_again).is_visible()
    assert page.get_by_role("button", name=back).is_visible()
    tab.shot(f"social-cancelled-{locale}")
    assert tab.unlabelled_controls() == []
    assert tab.csp_violations == []

    page.get_by_role("button", name=back).click()
    answer = query_of(tab.wait_for_rp())
    assert answer["error"] == "access_denied"
    assert answer["state"] == params["state"]
