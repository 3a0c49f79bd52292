"""Password change asks for the current password: a wrong or missing one changes nothing.
Change and reset accept long passwords and any characters (spaces, Unicode), which then
sign in exactly as typed: a case-changed, shortened or lengthened password is refused."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.contrib.auth import SESSION_KEY
from django.test import Client

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

CHANGE = "/accounts/password/change/"
LOGIN = "/accounts/login/"
NEW = "another-horse-staple-42"

LONG_67 = "tr0mbone-" * 7 + "abcd"
LONG_200 = ("Correct Horse Battery Staple " * 7)[:200]
WITH_SPACES = "four words with spaces"
UNICODE = "ção ñandú 東京 ☃ Ωμέγα"
PASSWORDS = {"67 characters": LONG_67, "200 characters": LONG_200}
PASSWORDS |= {"spaces": WITH_SPACES, "unicode": UNICODE}

# Each sign-in comes from an address of its own: the throttle's counters play no part here.
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def signed_in_client(email: str, password: str) -> Client:
    browser = Client(REMOTE_ADDR=next(_addresses))
    response = browser.post(LOGIN, {"login": email, "password": password})
    assert response.status_code == 302, response.content.decode()[-800:]
    return browser


def signs_in(email: str, password: str) -> bool:
    """Whether the hosted sign-in accepts ``password`` for ``email`` (a fresh browser)."""
    browser = Client(REMOTE_ADDR=next(_addresses))
    response = browser.post(LOGIN, {"login": email, "password": password})
    return response.status_code == 302 and SESSION_KEY in browser.session


def change(browser: Client, data: dict[str, str]) -> Any:
    return browser.post(CHANGE, data)


def reset(user: Any, password: str) -> Any:
    """Set ``password`` through the emailed reset link (its key made as allauth makes it)."""
    user.refresh_from_db()
    key = f"{user_pk_to_url_str(user)}-{default_token_generator.make_token(user)}"
    browser = Client(REMOTE_ADDR=next(_addresses))
    form_page = browser.get(f"/accounts/password/reset/key/{key}/")
    assert form_page.status_code == 302, form_page.status_code
    return browser.post(form_page["Location"], {"password1": password, "password2": password})


# --- the current password (ASVS 6.2.3) -------------------------------------------------------


@pytest.mark.parametrize(
    "current",
    [
        pytest.param({"oldpassword": "not-the-password-1"}, id="wrong"),
        pytest.param({"oldpassword": ""}, id="empty"),
        pytest.param({}, id="missing"),
        pytest.param({"oldpassword": PASSWORD.upper()}, id="case-changed"),
    ],
)
def test_change_without_the_right_current_password_changes_nothing(current):
    """A wrong, empty, missing or case-changed current password: the form is shown again
    with an error, the old password still signs in and the new one does not."""
    user = UserFactory()
    browser = signed_in_client(user.email, PASSWORD)
    response = change(browser, {**current, "password1": NEW, "password2": NEW})
    assert response.status_code == 200
    assert "oldpassword" in response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert signs_in(user.email, PASSWORD)
    assert not signs_in(user.email, NEW)


def test_change_with_the_right_current_password_changes_it():
    """The right current password: the new one signs in, the old one no longer does."""
    user = UserFactory()
    browser = signed_in_client(user.email, PASSWORD)
    response = change(browser, {"oldpassword": PASSWORD, "password1": NEW, "password2": NEW})
    assert response.status_code == 302, response.content.decode()[-800:]
    assert signs_in(user.email, NEW)
    assert not signs_in(user.email, PASSWORD)


# --- length and composition (ASVS 6.2.5, 6.2.9) -------------------------------------------


@pytest.mark.parametrize("password", list(PASSWORDS.values()), ids=list(PASSWORDS))
def test_change_accepts_long_and_unusual_passwords_which_then_sign_in(password):
    """67 and 200 characters, spaces, Unicode: accepted by the change form and then the
    password that signs in."""
    user = UserFactory()
    browser = signed_in_client(user.email, PASSWORD)
    data = {"oldpassword": PASSWORD, "password1": password, "password2": password}
    response = change(browser, data)
    assert response.status_code == 302, response.content.decode()[-800:]
    user.refresh_from_db()
    assert user.check_password(password)
    assert signs_in(user.email, password)


@pytest.mark.parametrize("password", list(PASSWORDS.values()), ids=list(PASSWORDS))
def test_reset_accepts_long_and_unusual_passwords_which_then_sign_in(password):
    """The same passwords set through the reset link: accepted, and they sign in."""
    user = UserFactory()
    response = reset(user, password)
    assert response.status_code == 302, response.content.decode()[-800:]
    assert signs_in(user.email, password)
    assert not signs_in(user.email, PASSWORD)


# --- checked exactly as typed (ASVS 6.2.8) -------------------------------------------------


def _variants(password: str) -> dict[str, str]:
    variants = {
        "upper case": password.upper(),
        "swapped case": password.swapcase(),
        "capitalised": password.capitalize(),
        "last character removed": password[:-1],
        "first character removed": password[1:],
        "one character added": password + "x",
        "cut to 64": password[:64],
        "cut to 72": password[:72],
        "spaces removed": password.replace(" ", ""),
    }
    return {name: value for name, value in variants.items() if value != password}


@pytest.mark.parametrize("password", [LONG_67, LONG_200, UNICODE], ids=["67", "200", "unicode"])
def test_a_changed_spelling_of_the_password_is_refused(password):
    """Set by a change, the password signs in only as typed: in other case, shortened
    (also to the 64 or 72 characters some hashes keep), lengthened or without its spaces,
    it is refused."""
    user = UserFactory()
    browser = signed_in_client(user.email, PASSWORD)
    data = {"oldpassword": PASSWORD, "password1": password, "password2": password}
    assert change(browser, data).status_code == 302
    for name, variant in _variants(password).items():
        assert not signs_in(user.email, variant), name
    assert signs_in(user.email, password)
