"""Ending a browser session."""

from __future__ import annotations

from django.contrib.auth import logout
from django.http import HttpRequest
from oauth2_provider.models import get_refresh_token_model

from ciam.models import AuthorizationContext

from ..selectors import session_auth_state


def session_logout(*, request: HttpRequest) -> None:
    """Sign the browser out and revoke the tokens its session issued.

    Tokens granted with ``offline_access`` outlive the session (OIDC Core 11) and stay.
    """
    state = session_auth_state(request)
    if state is not None:
        families = AuthorizationContext.objects.filter(
            sid=state.sid, offline=False, token_family__isnull=False
        ).values_list("token_family", flat=True)
        RefreshToken = get_refresh_token_model()
        for family in families:
            RefreshToken.revoke_family(family)
    logout(request)
