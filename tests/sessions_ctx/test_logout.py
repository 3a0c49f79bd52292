"""Ending a browser session revokes the tokens it issued (sessions_ctx/services/logout.py)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
    set_token_value,
)

from ciam.models import AuthorizationContext
from sessions_ctx.services.authentication import session_record_authentication
from sessions_ctx.services.logout import session_logout
from tests.factories import UserFactory, make_client

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


@pytest.fixture
def application():
    registered = make_client("web", redirect_uris=["https://rp.example.test/callback"])
    return get_application_model().objects.get(client_id=registered.client_id)


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def signed_in(user):
    """A request of a browser signed in as ``user`` through the hosted sign-in."""
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = user
    request.session[SESSION_KEY] = str(user.pk)
    session_record_authentication(request=request, user_id=str(user.pk))
    return request


def token_family(application, user, *, sid: str, offline: bool = False) -> dict:
    """A refresh-token family (access + refresh token) issued from a code of session ``sid``."""
    family = uuid.uuid4()
    access = AccessToken(
        user=user,
        application=application,
        expires=timezone.now() + timedelta(hours=1),
        scope="openid offline_access" if offline else "openid",
    )
    set_token_value(access, secrets.token_urlsafe(24))
    access.save()
    refresh = RefreshToken(
        user=user, application=application, access_token=access, token_family=family
    )
    set_token_value(refresh, secrets.token_urlsafe(24))
    refresh.save()
    AuthorizationContext.objects.create(
        application=application,
        user=user,
        code_hash=secrets.token_hex(32),
        sid=sid,
        auth_time=int(timezone.now().timestamp()),
        token_family=family,
        offline=offline,
        redeemed_at=timezone.now(),
    )
    return {"access": access, "refresh": refresh}


def revoked(tokens: dict) -> bool:
    refresh = RefreshToken.objects.get(pk=tokens["refresh"].pk)
    access_gone = not AccessToken.objects.filter(pk=tokens["access"].pk).exists()
    return refresh.revoked is not None and access_gone


def intact(tokens: dict) -> bool:
    refresh = RefreshToken.objects.get(pk=tokens["refresh"].pk)
    return refresh.revoked is None and AccessToken.objects.filter(pk=tokens["access"].pk).exists()


def sid_of(request) -> str:
    from sessions_ctx.selectors import session_auth_state

    return session_auth_state(request).sid


def test_logout_revokes_the_sessions_online_tokens(signed_in, user, application):
    """Tokens issued from this session (without offline_access) are revoked."""
    sid = sid_of(signed_in)
    first = token_family(application, user, sid=sid)
    second = token_family(application, user, sid=sid)
    session_logout(request=signed_in)
    assert revoked(first)
    assert revoked(second)


def test_logout_keeps_offline_tokens(signed_in, user, application):
    """Tokens granted with offline_access outlive the session (OIDC Core 11)."""
    offline = token_family(application, user, sid=sid_of(signed_in), offline=True)
    session_logout(request=signed_in)
    assert intact(offline)


def test_logout_leaves_other_sessions_alone(signed_in, user, application):
    """Tokens of the same user's other browser sessions stay valid."""
    other_session = token_family(application, user, sid="another-sid")
    session_logout(request=signed_in)
    assert intact(other_session)


def test_logout_signs_the_browser_out(signed_in):
    """The session loses its user and its authentication state."""
    session_logout(request=signed_in)
    assert isinstance(signed_in.user, AnonymousUser)
    assert SESSION_KEY not in signed_in.session


def test_logout_without_authentication_state_revokes_nothing(user, application):
    """A session with no recorded state (nobody signed in) revokes no tokens."""
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = AnonymousUser()
    tokens = token_family(application, user, sid="")
    session_logout(request=request)
    assert intact(tokens)


def test_logout_when_state_belongs_to_another_user_revokes_nothing(user, application):
    """A stale state of another user in the session does not revoke that user's tokens."""
    other = UserFactory()
    request = RequestFactory().get("/")
    request.session = SessionStore()
    state = session_record_authentication(request=request, user_id=str(other.pk))
    request.user = user
    request.session[SESSION_KEY] = str(user.pk)
    tokens = token_family(application, other, sid=state.sid)
    session_logout(request=request)
    assert intact(tokens)


def test_logout_tells_the_session_ended_after_signing_out(signed_in, user):
    """sessions_ctx.signals.session_ended names the ended session (user and sid) once the
    browser is signed out; ciam revokes its tokens on it. Nothing for a session that had no
    authentication state."""
    from sessions_ctx.signals import session_ended

    sid = sid_of(signed_in)
    seen: list[dict] = []

    def receiver(sender, request, user_id, sid, **kwargs):
        seen.append(
            {"user_id": user_id, "sid": sid, "signed_out": SESSION_KEY not in request.session}
        )

    session_ended.connect(receiver)
    try:
        session_logout(request=signed_in)
        anonymous = RequestFactory().get("/")
        anonymous.session = SessionStore()
        anonymous.user = AnonymousUser()
        session_logout(request=anonymous)
    finally:
        session_ended.disconnect(receiver)
    assert seen == [{"user_id": str(user.pk), "sid": sid, "signed_out": True}]
