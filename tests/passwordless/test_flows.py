"""Email sign-in inside an authorization request, end to end over HTTP: the relying party
gets a code whose ID token says how the person signed in."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

from django.contrib.auth import get_user_model

from tests.conftest import query_of
from tests.social.helpers import auth_params, redeem

START = "/account/email-sign-in/"


def email_sign_in_page(browser, client, **extra: str):
    """From the authorization request to the email sign-in page, with ``next`` kept."""
    params = auth_params(client, **extra)
    login = browser.follow_local(browser.get("/authorize?" + urlencode(params)))
    assert "/accounts/login/" in login.url
    # The sign-in page links to email sign-in, carrying the pending request along.
    href = re.search(r'href="(/account/email-sign-in/[^"]*)"', login.text).group(1)
    assert href == START + "?" + urlencode({"next": query_of(login.url)["next"]})
    page = browser.get(html.unescape(href))
    assert page.status_code == 200
    return params, page


def submit(browser, page, **data: str):
    data["csrfmiddlewaretoken"] = browser.csrf(page.text)
    return browser.post(page.url, data=data, headers={"Referer": page.url})


def test_sign_up_by_code_returns_to_the_application(browser, web_client, issuer, mailoutbox):
    """A newcomer types only an email address and the code: the account exists, the relying
    party gets a code, and the ID token says amr ["otp"] with a verified email."""
    params, page = email_sign_in_page(browser, web_client)
    assert "Sign in to continue to Test web client" in page.text
    code_page = browser.follow_local(submit(browser, page, email="newcomer@example.org"))
    assert code_page.url.endswith("/account/email-sign-in/code/")
    code = re.search(r"^ {4}(\d{6})$", mailoutbox[-1].body, re.M).group(1)
    response = browser.follow_local(submit(browser, code_page, code=code))
    claims = redeem(issuer, web_client, response.headers["Location"])
    user = get_user_model().objects.get(email="newcomer@example.org")
    assert claims["sub"] == user.public_id
    assert claims["amr"] == ["otp"]
    assert claims["email"] == "newcomer@example.org"
    assert claims["email_verified"] is True
    assert claims["nonce"] == params["nonce"]


def test_sign_in_by_link_returns_to_the_application(browser, web_client, user, issuer, mailoutbox):
    """login_hint fills in the address; the emailed link, opened in the same browser, signs
    in and the authorization request continues to the relying party."""
    _params, page = email_sign_in_page(browser, web_client, login_hint=user.email)
    assert f'value="{user.email}"' in page.text
    browser.follow_local(submit(browser, page, email=user.email))
    link = re.search(r"^(http\S+/link/[\w-]+/)$", mailoutbox[-1].body, re.M).group(1)
    response = browser.follow_local(browser.get(link))
    claims = redeem(issuer, web_client, response.headers["Location"])
    assert claims["sub"] == user.public_id
    assert claims["amr"] == ["otp"]
