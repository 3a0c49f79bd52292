"""Setting up, regenerating and removing the second factor from the account pages."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sessions_ctx.constants import SESSION_KEY_AUTH
from tests.factories import PASSWORD, UserFactory

from .conftest import enrol, next_totp_code, totp_code_for_key

pytestmark = pytest.mark.django_db

ENROL = "/account/mfa/totp/"
CODES = "/account/mfa/recovery-codes/"
REMOVE = "/account/mfa/totp/remove/"
OVERVIEW = "/account/mfa/"
VERIFY_SESSION = "/account/mfa/verify/"


@pytest.fixture
def signed_in(client):
    """A Django test client signed in just now (password, acr 1)."""
    user = UserFactory()
    client.force_login(user)
    return client, user


def sign_in_with_both_factors(client, enrolled) -> None:
    """Password (force_login), then the code on the account's code page."""
    client.force_login(enrolled.user)
    response = client.post(VERIFY_SESSION, {"code": next_totp_code(enrolled.device)})
    assert response.status_code == 302, response.content
    assert client.session[SESSION_KEY_AUTH]["acr"] == "2"


def shown_key(html: str) -> str:
    return re.search(r'id="totp-key"[^>]*>([A-Z2-7 ]+)<', html).group(1)


def shown_codes(html: str) -> list[str]:
    return re.findall(r"<li>([a-z2-7]{5}-[a-z2-7]{5})</li>", html)


def errors(html: str) -> str:
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', html, re.S))


def test_pages_need_a_signed_in_user(client):
    """Anonymous visitors are sent to the sign-in page, back here afterwards."""
    for path in (OVERVIEW, ENROL, CODES, REMOVE):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_enrolment_confirms_with_a_current_code_then_shows_recovery_codes_once(
    signed_in, no_otp_backoff
):
    """The set-up page shows a QR code (data: URI) and the key in groups; a wrong code
    leaves the device unconfirmed; the right one confirms it, adds the factor to the
    session, and the ten recovery codes are shown once."""
    client, user = signed_in
    page = client.get(ENROL)
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'<img src="data:image/svg\+xml;charset=utf-8,[^"]+"', html)
    key = shown_key(html)
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", key)  # 160-bit key, 8 groups
    assert "otpauth://totp/" in html
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]

    code = totp_code_for_key(key)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(ENROL, {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right" in errors(response.content.decode())
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert shown_key(response.content.decode()) == key  # same key until confirmed

    response = client.post(ENROL, {"code": code})
    assert response.status_code == 302
    assert response["Location"] == CODES
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    state = client.session[SESSION_KEY_AUTH]
    assert state["acr"] == "2"
    assert {"pwd", "otp", "mfa"} <= set(state["amr"])

    codes = shown_codes(client.get(CODES).content.decode())
    assert len(codes) == 10
    assert len(set(codes)) == 10
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert stored == {code.replace("-", "") for code in codes}
    again = client.get(CODES).content.decode()
    assert shown_codes(again) == []
    assert "You have 10 recovery codes left." in again


def test_enrolment_needs_a_recent_sign_in(signed_in):
    """With a sign-in older than ten minutes the set-up page asks to sign in again and
    creates no device."""
    client, user = signed_in
    session = client.session
    session[SESSION_KEY_AUTH] = {**session[SESSION_KEY_AUTH], "auth_time": 1_000_000_000}
    session.save()
    html = client.get(ENROL).content.decode()
    assert "sign in again" in html
    assert 'href="/accounts/login/?next=%2Faccount%2Fmfa%2Ftotp%2F"' in html
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert client.post(ENROL, {"code": "123456"}).status_code == 200
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_enrolment_keeps_a_safe_next_only(signed_in):
    """next= leads back into a sign-in request; other sites are ignored."""
    client, _user = signed_in
    html = client.get(ENROL + "?next=/account/mfa/verify/abc/").content.decode()
    assert 'name="next" value="/account/mfa/verify/abc/"' in html
    html = client.get(ENROL + "?next=https://evil.example/").content.decode()
    assert 'value="https://evil.example/"' not in html
    assert 'href="https://evil.example/"' not in html


def test_regenerating_recovery_codes_needs_reauthentication_and_replaces_them(client):
    """A wrong password changes nothing; the right one replaces every code."""
    enrolled = enrol(UserFactory())
    sign_in_with_both_factors(client, enrolled)
    old = {code.replace("-", "") for code in enrolled.recovery_codes}

    response = client.post(CODES, {"password": "not-my-password"})
    assert response.status_code == 200
    assert "That password or code is not right." in response.content.decode()
    assert set(StaticToken.objects.values_list("token", flat=True)) == old

    response = client.post(CODES, {"password": PASSWORD})
    assert response.status_code == 302
    new = shown_codes(client.get(CODES).content.decode())
    assert len(new) == 10
    stored = set(
        StaticToken.objects.filter(device__user=enrolled.user).values_list("token", flat=True)
    )
    assert stored == {code.replace("-", "") for code in new}
    assert not stored & old


def test_removal_needs_password_or_current_code(client, no_otp_backoff):
    """Nothing entered, or a wrong password: the authenticator stays. A current code from
    the app removes it together with the recovery codes."""
    enrolled = enrol(UserFactory())
    sign_in_with_both_factors(client, enrolled)

    response = client.post(REMOVE, {})
    assert "Enter your password or a code from your authenticator app." in response.content.decode()
    client.post(REMOVE, {"password": "wrong-password-1"})
    assert TOTPDevice.objects.filter(user=enrolled.user).exists()

    response = client.post(REMOVE, {"code": next_totp_code(enrolled.device)})
    assert response.status_code == 302
    assert response["Location"] == OVERVIEW
    assert not TOTPDevice.objects.filter(user=enrolled.user).exists()
    assert not StaticDevice.objects.filter(user=enrolled.user).exists()
    assert "Set up an authenticator app" in client.get(OVERVIEW).content.decode()


def test_removal_with_the_password(client):
    enrolled = enrol(UserFactory())
    sign_in_with_both_factors(client, enrolled)
    assert client.post(REMOVE, {"password": PASSWORD}).status_code == 302
    assert not TOTPDevice.objects.filter(user=enrolled.user).exists()


def test_wrong_passwords_on_removal_are_rate_limited(client):
    """Re-authentication counts failures like codes: the sixth attempt gets 429."""
    enrolled = enrol(UserFactory())
    sign_in_with_both_factors(client, enrolled)
    for _ in range(5):
        assert client.post(REMOVE, {"password": "guess"}).status_code == 200
    response = client.post(REMOVE, {"password": PASSWORD})
    assert response.status_code == 429
    assert TOTPDevice.objects.filter(user=enrolled.user).exists()


def test_overview_reports_status(client):
    """The overview says on/off and how many recovery codes are left."""
    enrolled = enrol(UserFactory())
    sign_in_with_both_factors(client, enrolled)
    html = client.get(OVERVIEW).content.decode()
    assert ">On<" in html
    assert "<dd>10</dd>" in html
    assert 'href="/account/mfa/totp/remove/"' in html


def test_enrol_page_redirects_once_enrolled(client):
    enrolled = enrol(UserFactory())
    sign_in_with_both_factors(client, enrolled)
    response = client.get(ENROL)
    assert response.status_code == 302
    assert response["Location"] == OVERVIEW


def test_one_factor_session_cannot_reach_the_second_factor_pages(client, no_otp_backoff):
    """Signed in with the password only, a user who has an authenticator app is sent to the
    code page before any two-step page: the password alone cannot turn it off or read new
    recovery codes. After the code, the page opens."""
    enrolled = enrol(UserFactory())
    client.force_login(enrolled.user)
    for path in (OVERVIEW, CODES, REMOVE):
        response = client.get(path)
        assert response.status_code == 303
        assert response["Location"] == f"{VERIFY_SESSION}?next={path.replace('/', '%2F')}"
    assert client.post(REMOVE, {"password": PASSWORD}).status_code == 303
    assert client.post(CODES, {"password": PASSWORD}).status_code == 303
    assert TOTPDevice.objects.filter(user=enrolled.user, confirmed=True).exists()
    assert StaticToken.objects.filter(device__user=enrolled.user).count() == 10

    page = client.get(f"{VERIFY_SESSION}?next=%2Faccount%2Fmfa%2Ftotp%2Fremove%2F")
    assert "Enter a code to continue to your account." in page.content.decode()
    wrong = client.post(
        f"{VERIFY_SESSION}?next=%2Faccount%2Fmfa%2Ftotp%2Fremove%2F", {"code": "12"}
    )
    assert wrong.status_code == 200
    response = client.post(
        f"{VERIFY_SESSION}?next=%2Faccount%2Fmfa%2Ftotp%2Fremove%2F",
        {"code": next_totp_code(enrolled.device)},
    )
    assert response.status_code == 302
    assert response["Location"] == REMOVE
    assert client.get(REMOVE).status_code == 200


def test_session_code_page_refuses_foreign_next(client):
    """After the code, only a path on this site is followed."""
    enrolled = enrol(UserFactory())
    client.force_login(enrolled.user)
    response = client.post(
        f"{VERIFY_SESSION}?next=https://evil.example/", {"code": next_totp_code(enrolled.device)}
    )
    assert response["Location"] == OVERVIEW


MIDDLEWARE = "accounts.mfa.middleware.SecondFactorMiddleware"


@pytest.fixture
def with_middleware(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]


def test_middleware_guards_every_account_page(client, with_middleware, web_client):
    """With SecondFactorMiddleware, any page of a one-factor session of a user with an
    authenticator app (home, email addresses) leads to the code page; the authorization
    endpoint is left to the interaction pipeline; sign-out stays reachable."""
    enrolled = enrol(UserFactory())
    client.force_login(enrolled.user)
    for path in ("/", "/accounts/email/", "/accounts/password/change/"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response["Location"].startswith(VERIFY_SESSION + "?next=")
    authorize = client.get(
        "/authorize",
        {
            "response_type": "code",
            "client_id": web_client.client_id,
            "redirect_uri": web_client.redirect_uri,
            "scope": "openid",
        },
    )
    assert authorize["Location"].startswith("/account/mfa/verify/")  # the step's own page
    assert client.get("/logout").status_code != 303

    client.post(VERIFY_SESSION, {"code": next_totp_code(enrolled.device)})
    assert client.get("/").status_code == 200


def test_middleware_leaves_other_users_alone(client, with_middleware):
    """Users without an authenticator app, and anonymous visitors, pass untouched."""
    assert client.get("/").status_code == 200
    client.force_login(UserFactory())
    assert client.get("/").status_code == 200
    assert client.get("/accounts/email/").status_code == 200
