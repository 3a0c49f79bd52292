"""Reads of a browser session's authentication state."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest

from .constants import SESSION_KEY_AUTH


@dataclass(frozen=True)
class AuthState:
    """How and when the signed-in user of this session authenticated."""

    user_id: str
    sid: str
    auth_time: int
    amr: list[str] = field(default_factory=list)
    acr: str = "1"


def session_auth_state(request: HttpRequest) -> AuthState | None:
    """The session's authentication state, or None when nobody is signed in.

    A state recorded for another user (the session changed hands) counts as none.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    data = request.session.get(SESSION_KEY_AUTH)
    if not data or data.get("user_id") != str(user.pk):
        return None
    return AuthState(
        user_id=data["user_id"],
        sid=data["sid"],
        auth_time=int(data["auth_time"]),
        amr=list(data.get("amr", [])),
        acr=data.get("acr", "1"),
    )
