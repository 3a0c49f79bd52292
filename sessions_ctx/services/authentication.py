"""Recording how a browser session authenticated."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from django.http import HttpRequest

from ..constants import AMR_BY_METHOD, SESSION_KEY_AUTH, SESSION_KEY_CONTEXT
from ..models import BrowserSession
from ..selectors import AuthState, session_auth_state
from ..signals import assurance_changed, authentication_recorded
from ..strength import acr_for_amr

ALLAUTH_METHODS_KEY = "account_authentication_methods"


def _amr_from_allauth(request: HttpRequest, since: float) -> list[str]:
    records = request.session.get(ALLAUTH_METHODS_KEY) or []
    amr: list[str] = []
    for record in records:
        if float(record.get("at", 0)) < since:
            continue
        value = AMR_BY_METHOD.get(record.get("method", ""))
        if value and value not in amr:
            amr.append(value)
    return amr


def _store(request: HttpRequest, state: AuthState) -> AuthState:
    request.session[SESSION_KEY_AUTH] = {
        "user_id": state.user_id,
        "sid": state.sid,
        "auth_time": state.auth_time,
        "amr": state.amr,
        "acr": state.acr,
    }
    context = request.session.get(SESSION_KEY_CONTEXT)
    if isinstance(context, dict) and context.get("user_id") == state.user_id:
        # The session's record shows how it authenticated last (services/sessions.py).
        fields = {
            "auth_time": datetime.fromtimestamp(state.auth_time, tz=UTC),
            "amr": state.amr,
            "acr": state.acr,
        }
        if request.session.session_key:  # rotated just now: the record names the live key
            fields["session_key"] = request.session.session_key
            context["key"] = request.session.session_key
            request.session[SESSION_KEY_CONTEXT] = context
        BrowserSession.objects.filter(pk=int(context.get("id") or 0), ended_at__isnull=True).update(
            **fields
        )
    return state


def _with_mfa(amr: list[str]) -> list[str]:
    acr = acr_for_amr(amr)
    if acr != "1" and "mfa" not in amr and len(set(amr) - {"user", "pin"}) >= 2:
        return [*amr, "mfa"]
    return amr


def session_record_authentication(
    *, request: HttpRequest, user_id: str, methods: Iterable[str] | None = None
) -> AuthState:
    """Mark the session as freshly authenticated by ``user_id`` now (a first factor).

    ``methods`` are RFC 8176 amr values; without them they are read from allauth's record
    of this sign-in. ``auth_time`` is the time of this real authentication (OIDC Core 2),
    not ``last_login``. The sid is kept while the same user re-authenticates, so relying
    parties see one session (OIDC Back-Channel Logout: sid identifies the OP session).
    """
    now = time.time()
    previous = request.session.get(SESSION_KEY_AUTH) or {}
    amr = list(methods) if methods is not None else _amr_from_allauth(request, now - 600)
    amr = _with_mfa(amr or ["pwd"])
    sid = previous.get("sid") if previous.get("user_id") == user_id else None
    state = _store(
        request,
        AuthState(
            user_id=user_id,
            sid=sid or secrets.token_urlsafe(24),
            auth_time=int(now),
            amr=amr,
            acr=acr_for_amr(amr),
        ),
    )
    authentication_recorded.send(
        sender=BrowserSession,
        request=request,
        user_id=state.user_id,
        sid=state.sid,
        amr=list(state.amr),
        acr=state.acr,
        auth_time=state.auth_time,
    )
    return state


def session_add_factor(*, request: HttpRequest, methods: Iterable[str]) -> AuthState:
    """Add factors proven now (a second factor, a step-up) to the signed-in session.

    auth_time moves to now (OIDC Core 2: the time of the authentication that produced the
    current acr); sid stays. Raises LookupError when nobody is signed in.
    """
    state = session_auth_state(request)
    if state is None:
        raise LookupError("No signed-in session to add a factor to.")
    amr = list(state.amr)
    for method in methods:
        if method not in amr:
            amr.append(method)
    amr = _with_mfa(amr)
    # A privilege change: the session id rotates (session fixation), the sid stays.
    request.session.cycle_key()
    added = _store(
        request,
        AuthState(
            user_id=state.user_id,
            sid=state.sid,
            auth_time=int(time.time()),
            amr=amr,
            acr=acr_for_amr(amr),
        ),
    )
    if added.acr != state.acr:
        assurance_changed.send(
            sender=BrowserSession,
            request=request,
            user_id=added.user_id,
            sid=added.sid,
            acr_before=state.acr,
            acr_after=added.acr,
            amr=list(added.amr),
        )
    return added
