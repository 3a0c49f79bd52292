"""Ending a browser session."""

from __future__ import annotations

from django.contrib.auth import logout
from django.http import HttpRequest

from ..selectors import session_auth_state
from ..signals import session_ended


def session_logout(*, request: HttpRequest) -> None:
    """Sign the browser out; then ``signals.session_ended`` tells the apps that hold what
    the session issued (ciam revokes its tokens, except those granted with
    ``offline_access``, which outlive the session: OIDC Core 11).

    Nothing is sent for a session without an authentication state of its user.
    """
    state = session_auth_state(request)
    logout(request)
    if state is not None:
        session_ended.send(
            sender=session_logout, request=request, user_id=state.user_id, sid=state.sid
        )
