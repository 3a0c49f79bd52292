"""The operators' /admin/login/ is a password sign-in like the hosted one: wrong passwords
go through the same throttle, per (account, address) and per address, with the same
exponential back-off, and a refused attempt is a readable error on the admin's page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client

from tests.abuse import test_password_throttle
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
HOSTED_LOGIN = "/accounts/login/"
ATTACKER = "203.0.113.66"
OPERATOR_ADDRESS = "198.51.100.20"
WRONG = "not-the-password-1"
TOO_MANY = "Too many failed login attempts. Try again later."
WRONG_PASSWORD = "Please enter the correct"

# The throttle's clock, moved by hand: the hosted sign-in tests' fixture.
clock = test_password_throttle.clock


@pytest.fixture
def operator(db) -> Any:
    return get_user_model().objects.create_superuser(email="root@example.com", password=PASSWORD)


def from_address(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_HOST="localhost")


def admin_sign_in(client: Client, email: str, password: str) -> Any:
    return client.post(ADMIN_LOGIN, {"username": email, "password": password})


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def assert_refused(response: Any, client: Client) -> None:
    """The admin's sign-in page again, with the throttle's error, and nobody signed in."""
    assert response.status_code == 200
    assert TOO_MANY in text_of(response)
    assert WRONG_PASSWORD not in text_of(response)
    assert SESSION_KEY not in client.session


def test_thirty_wrong_passwords_hold_the_attackers_pair(operator, clock):
    """Past 5 free wrong passwords for a staff account from one address, the next attempt
    waits: even the right password is refused from that address, shown as an error on the
    admin's sign-in page (never a 500); the operator still signs in from another address."""
    attacker = from_address(ATTACKER)
    answers = [admin_sign_in(attacker, operator.email, WRONG) for _ in range(30)]
    assert all(answer.status_code == 200 for answer in answers)
    assert all(WRONG_PASSWORD in text_of(answer) for answer in answers[:6])
    assert all(TOO_MANY in text_of(answer) for answer in answers[6:])
    assert_refused(admin_sign_in(attacker, operator.email, PASSWORD), attacker)

    own = from_address(OPERATOR_ADDRESS)
    response = admin_sign_in(own, operator.email, PASSWORD)
    assert response.status_code == 302
    assert str(own.session[SESSION_KEY]) == str(operator.pk)


def test_the_wait_doubles_and_ends(operator, clock):
    """The back-off is the hosted sign-in's: 2 seconds after the sixth wrong password, then
    twice as long; once it ends the right password signs in and the count starts afresh."""
    attacker = from_address(ATTACKER)
    for _ in range(6):
        assert WRONG_PASSWORD in text_of(admin_sign_in(attacker, operator.email, WRONG))
    assert_refused(admin_sign_in(attacker, operator.email, WRONG), attacker)
    clock.advance(2)
    assert WRONG_PASSWORD in text_of(admin_sign_in(attacker, operator.email, WRONG))
    clock.advance(2)
    assert_refused(admin_sign_in(attacker, operator.email, PASSWORD), attacker)
    clock.advance(2)
    assert admin_sign_in(attacker, operator.email, PASSWORD).status_code == 302
    again = from_address(ATTACKER)
    for _ in range(5):
        assert WRONG_PASSWORD in text_of(admin_sign_in(again, operator.email, WRONG))
    assert admin_sign_in(again, operator.email, PASSWORD).status_code == 302


def test_the_admin_and_the_hosted_page_share_the_pairs_count(operator, clock):
    """Wrong passwords at the hosted sign-in and at the admin's add up: an attacker cannot
    get twice the free attempts by switching pages."""
    attacker = from_address(ATTACKER)
    for _ in range(3):
        attacker.post(HOSTED_LOGIN, {"login": operator.email, "password": WRONG})
    for _ in range(3):
        assert WRONG_PASSWORD in text_of(admin_sign_in(attacker, operator.email, WRONG))
    assert_refused(admin_sign_in(attacker, operator.email, PASSWORD), attacker)
    hosted = attacker.post(HOSTED_LOGIN, {"login": operator.email, "password": PASSWORD})
    assert hosted.status_code == 429


def test_an_address_spraying_admin_accounts_backs_off(operator, clock, settings):
    """Wrong passwords for many accounts from one address count per address too: past
    CIAM_SIGNIN_FAILURES_PER_ADDRESS, that address waits for any account."""
    settings.CIAM_SIGNIN_FAILURES_PER_ADDRESS = 10
    attacker = from_address(ATTACKER)
    for n in range(11):
        assert WRONG_PASSWORD in text_of(admin_sign_in(attacker, f"ops{n}@example.com", WRONG))
    assert_refused(admin_sign_in(attacker, operator.email, PASSWORD), attacker)
    assert admin_sign_in(from_address(OPERATOR_ADDRESS), operator.email, PASSWORD).status_code == (
        302
    )


def test_a_customers_right_password_counts_as_wrong_at_the_admin(clock):
    """A customer's right password does not open the admin, and it is not a success for the
    throttle there either: it does not clear the pair's count."""
    from tests.factories import UserFactory

    customer = UserFactory(email="customer@example.com")
    attacker = from_address(ATTACKER)
    for _ in range(6):
        assert WRONG_PASSWORD in text_of(admin_sign_in(attacker, customer.email, PASSWORD))
    assert_refused(admin_sign_in(attacker, customer.email, PASSWORD), attacker)
