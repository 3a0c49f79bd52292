"""Session control outside the account pages: operators, remembered browsers, key rotation."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core import signing
from django.test import Client, RequestFactory

from accounts.mfa.constants import REMEMBER_COOKIE_NAME
from accounts.mfa.selectors import remembered_device_valid
from accounts.mfa.services import remembered_device_cookie_value
from sessions_ctx.constants import DEVICE_COOKIE_NAME, DEVICE_COOKIE_SALT
from sessions_ctx.models import BrowserSession, EndReason
from sessions_ctx.services.authentication import session_add_factor
from tests.factories import UserFactory
from tests.mfa.conftest import enrol

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get("/").status_code == 200
    return client


def device_cookie(device_id: str) -> str:
    return signing.get_cookie_signer(salt=DEVICE_COOKIE_SALT).sign(device_id)


def test_operator_signs_a_customer_out_everywhere(client):
    """Admin > Users > "Sign out everywhere": every session of the customer ends (its
    browser is signed out on its next request), each record says an administrator did it."""
    customer = UserFactory()
    first, second = signed_in(customer), signed_in(customer)
    assert BrowserSession.objects.filter(user=customer, ended_at__isnull=True).count() == 2
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "sign_out_everywhere", "_selected_action": [customer.pk], "confirm": "yes"},
    )
    assert response.status_code == 302
    assert not BrowserSession.objects.filter(user=customer, ended_at__isnull=True).exists()
    assert set(
        BrowserSession.objects.filter(user=customer).values_list("end_reason", flat=True)
    ) == {EndReason.REVOKED_BY_OPERATOR}
    for browser in (first, second):
        assert browser.get("/account/privacy/").status_code == 302  # to the sign-in page
    assert client.get("/admin/").status_code == 200  # the operator is still signed in


def test_remembered_browser_is_bound_to_the_device_cookie():
    """A "don't ask again on this browser" cookie made for one device cookie counts only
    with that device cookie: copied to another browser it is worthless."""
    user = enrol(UserFactory()).user
    value = remembered_device_cookie_value(user=user, device_id="a" * 32)
    assert value is not None

    def request_with(device_id: str):
        request = RequestFactory().get("/")
        request.session = SessionStore()
        request.user = user
        request.COOKIES[REMEMBER_COOKIE_NAME] = value
        request.COOKIES[DEVICE_COOKIE_NAME] = device_cookie(device_id)
        return request

    assert remembered_device_valid(request=request_with("a" * 32), user=user)
    assert not remembered_device_valid(request=request_with("b" * 32), user=user)


def test_adding_a_factor_rotates_the_session_id_and_the_record_follows():
    """A privilege change (a factor added) gives the session a new id; the session's record
    follows it after the response, so that it can still be ended from elsewhere."""
    user = UserFactory()
    client = signed_in(user)
    record = BrowserSession.objects.get(user=user)
    old_key = client.session.session_key
    assert record.session_key == old_key

    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=old_key)
    request.user = user
    session_add_factor(request=request, methods=["otp"])
    request.session.save()
    assert request.session.session_key != old_key
    client.cookies["ciam_session"] = request.session.session_key
    assert client.get("/").status_code == 200
    record.refresh_from_db()
    assert record.session_key == request.session.session_key
    assert record.amr[-1] in ("otp", "mfa")
