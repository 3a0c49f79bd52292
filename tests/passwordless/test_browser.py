"""Email sign-in in Chromium: the link opened on another device, confirmed there, and the
asking tab continuing on its own (static/js/passwordless.js)."""

from __future__ import annotations

import re
import secrets

import pytest

from tests.conftest import query_of

pytestmark = pytest.mark.browser


def auth_params(client) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }


def ask_for_an_email(tab, client, email: str) -> dict[str, str]:
    """From an authorization request, through the sign-in page's link, to the code page."""
    params = auth_params(client)
    tab.authorize(params)
    page = tab.page
    assert "/accounts/login/" in page.url
    page.get_by_role("link", name="Email me a sign-in code").click()
    page.wait_for_url(re.compile(r".*/account/email-sign-in/\?next=.*"))
    assert page.get_by_role("heading", level=1).inner_text() == "Continue with email"
    tab.shot("email-sign-in-start")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a code").click()
    page.wait_for_url(re.compile(r".*/account/email-sign-in/code/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Check your email"
    return params


def link_in(message) -> str:
    return re.search(r"^(http\S+/link/[\w-]+/)$", message.body, re.M).group(1)


def test_confirming_on_another_device_finishes_in_the_asking_tab(
    open_tab, web_client, user, mailoutbox
):
    """The link opened in another browser asks for the number shown in the asking tab; once
    it is typed there, the asking tab continues to the relying party by itself."""
    asking = open_tab()
    params = ask_for_an_email(asking, web_client, user.email)
    number = asking.page.locator("#match-number").inner_text()
    assert re.fullmatch(r"\d{2}", number)
    # The resend button counts down its cool-down.
    resend = asking.page.locator("#resend-button")
    assert resend.is_disabled()
    assert re.search(r"Send a new code in \d+ s", resend.inner_text())
    asking.shot("email-sign-in-code")

    other = open_tab()
    other.goto(link_in(mailoutbox[-1]))
    page = other.page
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Confirm on the device where you started"
    )
    other.shot("email-sign-in-other-device")
    page.get_by_label("Number shown on the other device").fill(number)
    page.get_by_role("button", name="Confirm sign-in").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Sign-in confirmed"

    location = asking.wait_for_rp()
    assert location.startswith(web_client.redirect_uri + "?")
    assert query_of(location)["state"] == params["state"]
    assert query_of(location)["code"]
    assert other.rp_requests == []
    assert asking.csp_violations == []
    assert other.csp_violations == []


def test_typing_the_code_signs_up_a_newcomer(tab, web_client, mailoutbox):
    """A new address and its code: the account is created and the relying party gets a code;
    every control has a label and nothing is refused by the page's policy."""
    params = ask_for_an_email(tab, web_client, f"new-{secrets.token_hex(4)}@example.com")
    assert tab.unlabelled_controls() == []
    code = re.search(r"^ {4}(\d{6})$", mailoutbox[-1].body, re.M).group(1)
    tab.page.get_by_label("Code").fill(code)
    tab.page.get_by_role("button", name="Continue").click()
    location = tab.wait_for_rp()
    assert query_of(location)["state"] == params["state"]
    assert tab.csp_violations == []
