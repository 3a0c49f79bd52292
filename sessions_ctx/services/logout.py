"""Ending a browser session (the sign-out paths' entry point)."""

from __future__ import annotations

from django.http import HttpRequest

from ..models import EndReason
from .sessions import session_end


def session_logout(*, request: HttpRequest) -> None:
    """Sign the browser out (services.sessions.session_end): the record is closed, then
    ``signals.session_ended`` tells the apps that hold what the session issued (ciam revokes
    its tokens, except those granted with ``offline_access``, which outlive the session:
    OIDC Core 11, and tells its clients by back-channel logout)."""
    session_end(request=request, reason=EndReason.SIGNED_OUT)
