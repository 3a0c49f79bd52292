"""What a session owing a step-up cannot do, and how the emailed code resists guessing."""

from __future__ import annotations

import re
from importlib import import_module

import pytest
from django.core import mail
from django.test import Client

from accounts.stepup.selectors import step_up_met_by_session
from accounts.stepup.services import HOURLY_FAILURES, HOURLY_SENDS
from sessions_ctx.models import RiskDecision
from tests.factories import PASSWORD, UserFactory

from .test_context import CHROME_WINDOWS, FIREFOX_LINUX

pytestmark = pytest.mark.django_db
IP = "192.0.2.10"


@pytest.fixture(autouse=True)
def _default_policy(db):
    from django.apps import apps

    import_module("sessions_ctx.migrations.0002_default_risk_policy").create_default_policy(
        apps, None
    )


def owing_step_up(user) -> Client:
    """Signed in with Chrome, then the cookie used by Firefox: a step-up is owed."""
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=CHROME_WINDOWS)
    response = client.post(
        "/accounts/login/", {"login": user.email, "password": PASSWORD, "remember": "on"}
    )
    assert response.status_code == 302
    client.get("/")
    client.defaults["HTTP_USER_AGENT"] = FIREFOX_LINUX
    assert client.get("/account/privacy/")["Location"].startswith("/account/confirm/")
    return client


def test_a_staff_session_owing_a_step_up_cannot_open_the_admin():
    """Operators are no exception: their admin pages wait for the step-up too."""
    client = owing_step_up(UserFactory(is_staff=True, is_superuser=True))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/confirm/?next=")


def test_an_alternating_context_is_assessed_once():
    """Going back and forth between two user agents (or networks) makes one decision per
    new context, not one per request."""
    user = UserFactory()
    client = owing_step_up(user)
    for agent in (CHROME_WINDOWS, FIREFOX_LINUX, CHROME_WINDOWS, FIREFOX_LINUX):
        client.defaults["HTTP_USER_AGENT"] = agent
        client.get("/account/confirm/")
    assert RiskDecision.objects.filter(user=user, trigger="context_change").count() == 1


def test_wrong_emailed_codes_are_limited_per_account_across_new_codes():
    """Each wrong code counts for the account, whatever session or new code it was for:
    past CIAM's hourly limit no code is checked (the right one neither) and none is sent."""
    user = UserFactory()
    client = owing_step_up(user)
    page = client.get("/account/confirm/?next=/account/privacy/")
    assert page.status_code == 200
    assert len(mail.outbox) == 1
    for _ in range(HOURLY_FAILURES):
        client.post("/account/confirm/?next=/account/privacy/", {"action": "code", "code": "1"})
    sent = len(mail.outbox)
    assert sent <= HOURLY_SENDS
    code = re.search(r"^\s+(\d{6})\s*$", mail.outbox[-1].body, re.M)
    assert code
    response = client.post(
        "/account/confirm/?next=/account/privacy/", {"action": "code", "code": code.group(1)}
    )
    assert response.status_code == 400
    assert "Too many" in response.content.decode()
    client.post("/account/confirm/?next=/account/privacy/", {"action": "resend"})
    assert len(mail.outbox) == sent
    decision = RiskDecision.objects.filter(user=user).first()
    assert decision is not None
    assert decision.resolved_at is None


def test_a_method_the_session_had_before_the_decision_does_not_meet_it(rf, monkeypatch):
    """A passkey in the session's amr from before the decision is no proof after it."""
    from django.contrib.sessions.backends.db import SessionStore

    from sessions_ctx.constants import SESSION_KEY_AUTH

    user = UserFactory()
    request = rf.get("/")
    request.session = SessionStore()
    request.user = user
    request.session[SESSION_KEY_AUTH] = {
        "user_id": str(user.pk),
        "sid": "s",
        "auth_time": 2_000_000_000,
        "amr": ["hwk", "user", "otp"],
        "acr": "phrh",
    }
    monkeypatch.setattr("accounts.stepup.selectors.user_has_passkey", lambda user: True)
    assert step_up_met_by_session(request=request, since=1, amr_before=("hwk", "user")) == ""
    assert step_up_met_by_session(request=request, since=1, amr_before=("pwd",)) == "hwk"
