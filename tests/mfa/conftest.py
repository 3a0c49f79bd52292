"""Fixtures and helpers for the second factor: enrolled users, codes, hosted-page flows."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
import requests
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa.services import recovery_codes_generate
from tests.conftest import Browser, query_of, redeem_code
from tests.factories import UserFactory

VERIFY_PATH = "/account/mfa/verify/"


def next_totp_code(device: TOTPDevice) -> str:
    """The code an authenticator app would show that the device still accepts.

    The current time step, or the one after the last accepted code when that one was used
    already (django-otp accepts one step ahead, and refuses a step twice: RFC 6238 5.2).
    """
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now_step = totp.t()
    step = max(now_step, device.last_t + 1)
    assert step <= now_step + device.tolerance, "device used too often in one time step"
    totp.time = (step - device.drift) * device.step + device.t0
    return f"{totp.token():0{device.digits}d}"


def totp_code_for_key(key_base32: str) -> str:
    """What an authenticator app shows now for a base32 key (as shown on the set-up page)."""
    from base64 import b32decode

    secret = key_base32.replace(" ", "")
    secret += "=" * (-len(secret) % 8)
    return f"{TOTP(b32decode(secret)).token():06d}"


@dataclass
class Enrolled:
    user: object
    device: TOTPDevice
    recovery_codes: list[str]

    @property
    def email(self) -> str:
        return self.user.email

    def code(self) -> str:
        return next_totp_code(self.device)


def enrol(user) -> Enrolled:
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return Enrolled(user=user, device=device, recovery_codes=recovery_codes_generate(user=user))


@pytest.fixture
def enrolled(db) -> Enrolled:
    """A user with a confirmed authenticator app and ten recovery codes."""
    return enrol(UserFactory())


@pytest.fixture
def no_otp_backoff(settings) -> None:
    """django-otp's exponential back-off (1 s after one failure) off, so that a right code
    may follow a wrong one at test speed; the provider's own limit still applies."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def auth_params(client, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        **extra,
    }


def start(browser: Browser, params: dict[str, str], email: str | None = None, password=None):
    """Send the authorization request and sign in if asked; the response where it stops:
    a provider page (200) or the redirect to the client (302)."""
    response = browser.follow_local(browser.get("/authorize?" + urlencode(params)))
    if response.status_code == 200 and "/accounts/login/" in response.url:
        assert email, "sign-in page shown but no credentials given"
        response = browser.login_form(response, email, password)
    return response


def submit(browser: Browser, page: requests.Response, **data: str) -> requests.Response:
    """Post the first form of ``page`` (to its own URL) with ``data``; follow local redirects."""
    response = browser.post(
        page.url,
        data={"csrfmiddlewaretoken": browser.csrf(page.text), **data},
        headers={"Referer": page.url},
    )
    return browser.follow_local(response)


def enter_code(
    browser: Browser, page: requests.Response, code: str, *, remember: bool = False
) -> requests.Response:
    assert VERIFY_PATH in page.url, page.url
    data = {"code": code}
    if remember:
        data["remember"] = "on"
    return submit(browser, page, **data)


def client_location(response: requests.Response, client) -> dict[str, str]:
    """The parameters of the redirect to the client's redirect_uri."""
    assert response.status_code in (302, 303), (response.status_code, response.url)
    location = response.headers["Location"]
    assert location.startswith(client.redirect_uri + "?"), location
    return query_of(location)


def id_token_claims(issuer: str, client, code: str) -> dict:
    """Redeem ``code``; the ID token's claims, signature checked against the JWKS."""
    return redeem_code(issuer, client, code)


def sign_out(browser: Browser) -> None:
    """Drop the session cookie only (other cookies, like a remembered browser, stay)."""
    for cookie in list(browser.session.cookies):
        if cookie.name == "ciam_session":
            browser.session.cookies.clear(cookie.domain, cookie.path, cookie.name)


def page_error(page: requests.Response) -> str:
    """The text of the field error on a page (errorlist), or ''."""
    match = re.search(r'class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', page.text, re.S)
    return match.group(1).strip() if match else ""
