"""Password change and account recovery ask "Sign out of all other devices" (checked by
default): checked, every other session ends (its clients told); unchecked, the other
sessions stay signed in although the password changed (accounts/password_forms.py)."""

from __future__ import annotations

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.test import Client

from ciam.models import BackchannelLogoutDelivery
from sessions_ctx.models import BrowserSession, EndReason
from tests.factories import PASSWORD, UserFactory

from .test_account_sessions import (
    LAPTOP,
    PHONE,
    is_signed_in,
    record_of,
    signed_in_browser,
    with_backchannel_client,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-horse-staple-42"
CHANGE = "/accounts/password/change/"


@pytest.fixture(autouse=True)
def password_forms(settings) -> None:
    settings.ACCOUNT_FORMS = {
        **settings.ACCOUNT_FORMS,
        "change_password": "accounts.password_forms.ChangePasswordForm",
        "reset_password_from_key": "accounts.password_forms.ResetPasswordKeyForm",
    }


@pytest.fixture
def user():
    return UserFactory()


def change_password(browser: Client, *, sign_out_others: bool):
    data = {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    if sign_out_others:
        data["sign_out_other_sessions"] = "on"
    response = browser.post(CHANGE, data)
    assert response.status_code == 302, response.content.decode()[-1500:]
    return response


def reset_password(browser: Client, user, *, sign_out_others: bool):
    user.refresh_from_db()  # the emailed link is made from the current last_login
    key = f"{user_pk_to_url_str(user)}-{default_token_generator.make_token(user)}"
    response = browser.get(f"/accounts/password/reset/key/{key}/")
    assert response.status_code == 302, response.status_code
    data = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    if sign_out_others:
        data["sign_out_other_sessions"] = "on"
    response = browser.post(response["Location"], data)
    assert response.status_code == 302, response.content.decode()[-1500:]
    return response


def test_change_page_offers_the_choice_checked(user):
    """The change page has the checkbox, labelled, and ticked before anything is posted."""
    text = signed_in_browser(user).get(CHANGE).content.decode()
    assert "Sign out of all other devices" in text
    assert 'name="sign_out_other_sessions"' in text
    field = text[text.index('name="sign_out_other_sessions"') - 200 :]
    assert "checked" in field[: field.index(">", 200)]


def test_change_with_sign_out_ends_every_other_session(user):
    """Checked: the phone is signed out, its record ends as "password changed" and its
    client gets a back-channel logout; the laptop that changed it stays signed in."""
    laptop = signed_in_browser(user, LAPTOP)
    phone = signed_in_browser(user, PHONE)
    target = record_of(phone)
    with_backchannel_client(user, target)
    change_password(laptop, sign_out_others=True)
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    target.refresh_from_db()
    assert target.end_reason == EndReason.PASSWORD_CHANGED
    assert BackchannelLogoutDelivery.objects.filter(sid=target.sid).count() == 1
    assert BrowserSession.objects.filter(user=user, ended_at__isnull=True).count() == 1


def test_change_without_sign_out_keeps_the_other_sessions(user):
    """Unchecked: the phone stays signed in with the new password in place, nothing ends."""
    laptop = signed_in_browser(user, LAPTOP)
    phone = signed_in_browser(user, PHONE)
    change_password(laptop, sign_out_others=False)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert is_signed_in(laptop)
    assert is_signed_in(phone)
    assert BrowserSession.objects.filter(user=user, ended_at__isnull=False).count() == 0
    assert BackchannelLogoutDelivery.objects.count() == 0


def test_reset_with_sign_out_ends_every_session(user):
    """Account recovery, checked: every session of the account ends (there is none to
    keep), each client told."""
    laptop = signed_in_browser(user, LAPTOP)
    phone = signed_in_browser(user, PHONE)
    with_backchannel_client(user, record_of(phone))
    reset_password(Client(), user, sign_out_others=True)
    assert not is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert set(BrowserSession.objects.filter(user=user).values_list("end_reason", flat=True)) == {
        EndReason.PASSWORD_CHANGED
    }
    assert BackchannelLogoutDelivery.objects.count() == 1


def test_reset_without_sign_out_keeps_the_sessions(user):
    """Account recovery, unchecked: the browsers already signed in stay signed in."""
    laptop = signed_in_browser(user, LAPTOP)
    phone = signed_in_browser(user, PHONE)
    reset_password(Client(), user, sign_out_others=False)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert is_signed_in(laptop)
    assert is_signed_in(phone)
    assert BrowserSession.objects.filter(user=user, ended_at__isnull=False).count() == 0


def test_reset_from_a_signed_in_browser_signs_it_out_too(user):
    """Recovering the account in a browser signed in as the same user, checked: that
    browser is signed out as well, without an error page."""
    laptop = signed_in_browser(user, LAPTOP)
    phone = signed_in_browser(user, PHONE)
    reset_password(laptop, user, sign_out_others=True)
    assert not is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert BrowserSession.objects.filter(user=user, ended_at__isnull=True).count() == 0


def test_reset_page_offers_the_choice(user):
    key = f"{user_pk_to_url_str(user)}-{default_token_generator.make_token(user)}"
    browser = Client()
    page = browser.get(browser.get(f"/accounts/password/reset/key/{key}/")["Location"])
    assert "Sign out of all other devices" in page.content.decode()
