"""In Chromium: set up an authenticator app from the page, then sign in with it."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import query_of
from tests.factories import UserFactory

from .conftest import auth_params, next_totp_code, totp_code_for_key

pytestmark = pytest.mark.browser


def sign_in(tab, email: str, password: str) -> None:
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_role("button", name="Sign in", exact=True).click()


def test_set_up_authenticator_then_sign_in_with_it(open_tab, web_client, password, issuer):
    """A user signs in, opens the two-step verification page, scans (here: reads) the key,
    confirms with a code and sees ten recovery codes. In a new browser, signing in to a
    client asks for the code after the password and ends at the client with a code. The
    pages have labelled inputs and no Content Security Policy violations."""
    user = UserFactory()
    tab = open_tab()
    tab.goto("/account/mfa/")
    sign_in(tab, user.email, password)
    page = tab.page
    page.wait_for_url(re.compile(r".*/account/mfa/$"))
    page.get_by_role("link", name="Set up an authenticator app").click()

    page.wait_for_url(re.compile(r".*/account/mfa/totp/$"))
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    assert qr.is_visible()
    assert qr.evaluate("img => img.naturalWidth") > 100  # the SVG data: URI rendered
    key = page.locator("#totp-key").inner_text()
    assert tab.unlabelled_controls() == []
    page.get_by_label("Code from the app").fill(totp_code_for_key(key))
    page.get_by_role("button", name="Turn on").click()

    page.wait_for_url(re.compile(r".*/account/mfa/recovery-codes/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Recovery codes"
    assert page.locator("#recovery-codes li").count() == 10
    assert page.get_by_role("button", name="Print").is_visible()  # the page's script ran
    page.get_by_role("link", name="Done").click()
    page.wait_for_url(re.compile(r".*/account/mfa/$"))
    assert page.get_by_text("Authenticator app").first.is_visible()
    assert tab.csp_violations == []

    other = open_tab()
    params = auth_params(web_client)
    other.authorize(params)
    sign_in(other, user.email, password)
    other.page.wait_for_url(re.compile(r".*/account/mfa/verify/.*"))
    assert other.page.get_by_role("heading", level=1).inner_text() == "Two-step verification"
    assert other.unlabelled_controls() == []
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    other.page.get_by_label("Verification code").fill(next_totp_code(device))
    other.page.get_by_role("button", name="Verify").click()

    answer = query_of(other.wait_for_rp())
    assert answer["code"]
    assert answer["state"] == params["state"]
    assert answer["iss"] == issuer
    assert other.csp_violations == []
