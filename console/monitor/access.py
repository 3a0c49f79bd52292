"""Who may watch the live monitor, and the ticket its page hands to its socket.

The page is an admin view behind every middleware of the hosted pages: a second factor the
operator set up, a risk step-up, an ended browser session all stop it there. The WebSocket
goes through none of them (Channels' AuthMiddlewareStack only reads the session). So:

- the page (and, before each reconnect, the small JSON view ``monitor_ticket_view``, an admin
  view behind the same middleware) signs a short ticket naming the user and a hash of the
  session key (``CIAM_MONITOR_TICKET_SECONDS``, 60 s). The socket takes it in its first
  message (never in the URL: access logs keep URLs) and only at the handshake;
- at the handshake and at every periodic re-check, the socket reloads the session from the
  session store as Django's own middleware would (``monitor_session_user``): unexpired, the
  same user, the same password hash (a password change signs every other session out), its
  browser session record (sessions_ctx) not ended, and the user still active staff with the
  permission. Signing out, an ended session or a withdrawn right close the socket.
"""

from __future__ import annotations

import hashlib
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.core import signing
from django.utils.crypto import constant_time_compare

from .app_settings import app_settings
from .models import PERMISSION

TICKET_SALT = "console.monitor.ticket"


def monitor_allowed(user: Any) -> bool:
    """Active staff holding the monitor permission (superusers hold every permission)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(PERMISSION)
    )


def session_digest(session_key: str) -> str:
    """A short hash of a session key (never the key itself in a ticket or a counter)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def monitor_ticket(*, user: Any, session_key: str) -> str:
    """A signed ticket for the socket of the page ``user`` loaded in this session."""
    return signing.dumps({"u": user.pk, "s": session_digest(session_key)}, salt=TICKET_SALT)


def monitor_ticket_valid(*, ticket: str, user: Any, session_key: str | None) -> bool:
    """The ticket is unexpired and names this user and this session."""
    if not ticket or not isinstance(ticket, str) or not session_key:
        return False
    if user is None or not user.is_authenticated:
        return False
    try:
        payload = signing.loads(ticket, salt=TICKET_SALT, max_age=app_settings.TICKET_SECONDS)
    except signing.BadSignature:
        return False
    return (
        isinstance(payload, dict)
        and payload.get("u") == user.pk
        and payload.get("s") == session_digest(session_key)
    )


def _browser_session_active(data: dict[str, Any], user_pk: Any) -> bool:
    """The session's sessions_ctx record (its context, SESSION_KEY_CONTEXT) is not ended."""
    from sessions_ctx.constants import SESSION_KEY_CONTEXT
    from sessions_ctx.models import BrowserSession

    context = data.get(SESSION_KEY_CONTEXT)
    if not isinstance(context, dict) or context.get("user_id") != str(user_pk):
        return False
    record_id = context.get("id")
    if not isinstance(record_id, int):
        return False
    return BrowserSession.objects.filter(
        pk=record_id, user_id=user_pk, ended_at__isnull=True
    ).exists()


def monitor_session_user(*, session_key: str | None, user_pk: Any) -> Any | None:
    """The user of session ``session_key`` as the database has them now, when the session
    is still theirs and they may still watch; None otherwise.

    The session is read again from its store (``SessionStore.load()``: an expired or deleted
    session reads as empty), as ``django.contrib.auth.get_user`` would: its user is
    ``user_pk`` and its password hash is the user's current one (constant-time compare).
    """
    if not session_key or user_pk is None:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    data = store.load()
    if not data or str(data.get(SESSION_KEY, "")) != str(user_pk):
        return None
    user = get_user_model()._default_manager.filter(pk=user_pk).first()
    if user is None:
        return None
    stored_hash = data.get(HASH_SESSION_KEY)
    if not isinstance(stored_hash, str) or not constant_time_compare(
        stored_hash, user.get_session_auth_hash()
    ):
        return None
    if not _browser_session_active(data, user.pk):
        return None
    return user if monitor_allowed(user) else None
