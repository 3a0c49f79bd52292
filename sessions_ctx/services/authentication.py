"""Recording how a browser session authenticated."""

from __future__ import annotations

import secrets
import time

from django.http import HttpRequest

from ..constants import ACR_ONE_FACTOR, ACR_TWO_FACTORS, AMR_BY_METHOD, SESSION_KEY_AUTH
from ..selectors import AuthState

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


def session_record_authentication(
    *, request: HttpRequest, user_id: str, methods: list[str] | None = None
) -> AuthState:
    """Mark the session as freshly authenticated by ``user_id`` now.

    ``auth_time`` is the time of this real authentication (OIDC Core 2: auth_time), not
    ``last_login``. A new ``sid`` is drawn when the user changes; re-authentication of the
    same user keeps the sid so relying parties see one session (OIDC Front/Back-Channel
    Logout: sid identifies the OP session).
    """
    now = time.time()
    previous = request.session.get(SESSION_KEY_AUTH) or {}
    amr = methods if methods is not None else _amr_from_allauth(request, now - 600)
    if not amr:
        amr = ["pwd"]
    acr = ACR_TWO_FACTORS if len(set(amr) - {"mfa"}) >= 2 or "mfa" in amr else ACR_ONE_FACTOR
    if "mfa" not in amr and acr == ACR_TWO_FACTORS:
        amr = [*amr, "mfa"]
    sid = previous.get("sid") if previous.get("user_id") == user_id else None
    state = AuthState(
        user_id=user_id,
        sid=sid or secrets.token_urlsafe(24),
        auth_time=int(now),
        amr=amr,
        acr=acr,
    )
    request.session[SESSION_KEY_AUTH] = {
        "user_id": state.user_id,
        "sid": state.sid,
        "auth_time": state.auth_time,
        "amr": state.amr,
        "acr": state.acr,
    }
    return state
