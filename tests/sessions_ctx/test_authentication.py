"""The authentication state of a browser session (sessions_ctx): sid, auth_time, amr, acr."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from sessions_ctx.constants import SESSION_KEY_AUTH
from sessions_ctx.selectors import session_auth_state
from sessions_ctx.services import authentication
from sessions_ctx.services.authentication import ALLAUTH_METHODS_KEY, session_record_authentication
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_():
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = AnonymousUser()
    return request


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(authentication, "time", SimpleNamespace(time=fake.time))
    return fake


def test_first_authentication_records_sid_and_auth_time_now(request_):
    """The session gets a random sid and auth_time is the time of this sign-in."""
    before = int(time.time())
    state = session_record_authentication(request=request_, user_id="7")
    after = int(time.time())
    assert before <= state.auth_time <= after
    assert len(state.sid) >= 22
    assert state.user_id == "7"
    assert request_.session[SESSION_KEY_AUTH]["sid"] == state.sid
    assert request_.session[SESSION_KEY_AUTH]["auth_time"] == state.auth_time


def test_reauthentication_of_the_same_user_keeps_sid_and_moves_auth_time(request_, clock):
    """Signing in again as the same user: same sid (one OP session), later auth_time."""
    first = session_record_authentication(request=request_, user_id="7")
    clock.now += 120
    second = session_record_authentication(request=request_, user_id="7")
    assert second.sid == first.sid
    assert second.auth_time == first.auth_time + 120


def test_another_user_gets_a_new_sid(request_):
    """When another user signs in on the same browser, the sid changes."""
    first = session_record_authentication(request=request_, user_id="7")
    second = session_record_authentication(request=request_, user_id="8")
    assert second.sid != first.sid
    assert second.user_id == "8"


def test_sids_differ_between_sessions(db):
    """Two browsers never share a sid."""
    sids = set()
    for _ in range(20):
        request = RequestFactory().get("/")
        request.session = SessionStore()
        sids.add(session_record_authentication(request=request, user_id="7").sid)
    assert len(sids) == 20


def test_password_alone_is_one_factor(request_):
    """Without allauth records, the method is the password: amr pwd, acr 1."""
    state = session_record_authentication(request=request_, user_id="7")
    assert state.amr == ["pwd"]
    assert state.acr == "1"


def test_two_recent_methods_are_two_factors(request_, clock):
    """Password plus a one-time code within ten minutes: amr pwd, otp, mfa; acr 2
    (RFC 8176)."""
    request_.session[ALLAUTH_METHODS_KEY] = [
        {"method": "password", "at": clock.now - 30},
        {"method": "mfa", "at": clock.now - 5},
    ]
    state = session_record_authentication(request=request_, user_id="7")
    assert state.amr == ["pwd", "otp", "mfa"]
    assert state.acr == "2"


def test_old_method_records_do_not_count(request_, clock):
    """Methods used more than ten minutes ago are not part of this authentication."""
    request_.session[ALLAUTH_METHODS_KEY] = [
        {"method": "code", "at": clock.now - 3600},
        {"method": "password", "at": clock.now - 10},
    ]
    state = session_record_authentication(request=request_, user_id="7")
    assert state.amr == ["pwd"]
    assert state.acr == "1"


def test_explicit_methods_win(request_):
    """Callers may name the methods (e.g. a federated sign-in)."""
    state = session_record_authentication(request=request_, user_id="7", methods=["fed"])
    assert state.amr == ["fed"]
    assert state.acr == "1"


# --- session_auth_state ---------------------------------------------------------------------


def test_no_state_for_anonymous_requests(request_):
    """Nobody signed in: no authentication state, whatever the session holds."""
    session_record_authentication(request=request_, user_id="7")
    assert session_auth_state(request_) is None


def test_state_of_the_signed_in_user(request_):
    """The signed-in user's recorded state is returned."""
    user = UserFactory()
    recorded = session_record_authentication(request=request_, user_id=str(user.pk))
    request_.user = user
    assert session_auth_state(request_) == recorded


def test_state_recorded_for_another_user_counts_as_none(request_):
    """If the session's user differs from the recorded one, there is no state."""
    user, other = UserFactory(), UserFactory()
    session_record_authentication(request=request_, user_id=str(other.pk))
    request_.user = user
    assert session_auth_state(request_) is None


def test_signed_in_user_without_recorded_state_has_none(request_):
    """A session authenticated without the recording hook (e.g. the admin) has no state."""
    request_.user = UserFactory()
    assert session_auth_state(request_) is None


def test_hosted_sign_in_records_the_state(client):
    """Signing in through the hosted page records sid and auth_time for that user."""
    from tests.factories import PASSWORD

    user = UserFactory()
    before = int(time.time())
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    data = client.session[SESSION_KEY_AUTH]
    assert data["user_id"] == str(user.pk)
    assert data["auth_time"] >= before
    assert data["amr"] == ["pwd"]
    assert data["sid"]
