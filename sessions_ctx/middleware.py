"""The session context on every hosted page: device cookie, session upkeep, risk.

For each request of the hosted pages (not the token, userinfo, introspection and revocation
endpoints, which carry no browser session; see ciam/fastpath.py):

1. the browser gets its device cookie when it has none (device.py);
2. a signed-in session is touched (services.sessions.session_touch): ended when past its
   idle or absolute end, assessed again when its user agent or network changed, its last
   seen time written at most every few minutes;
3. a session whose risk decision ends it (end the session, block) is signed out here, and
   the request goes on signed out (the sign-in page says why);
4. a session owing a step-up is sent to the step-up page (CIAM_SESSIONS_STEP_UP_URL) before
   any account page; the authorization endpoint (namespace ``oidc``) is left to the
   interaction pipeline, whose risk step asks for the same step-up with the client's
   policy applied;
5. after the response, the session's record follows a rotated session key.

Place after AuthenticationMiddleware, MessageMiddleware and the second factor's middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from .app_settings import app_settings
from .device import device_cookie_set, device_id_of
from .models import Action, EndReason
from .services.risk import risk_enforce, risk_step_up_pending
from .services.sessions import session_key_follow, session_touch

EXEMPT_NAMESPACES = frozenset({"oidc"})
EXEMPT_VIEW_NAMES = frozenset(
    {
        "account_login",
        "account_logout",
        "admin:login",
        "admin:logout",
        "set_language",
        "mfa:verify",
        "mfa:verify-session",
        "passkeys:authenticate-begin",
        "passkeys:authenticate-complete",
    }
)


def session_ended_message(request: HttpRequest, action: str) -> None:
    if not hasattr(request, "_messages"):
        return
    if action == EndReason.EXPIRED:
        text = _("Your session ended. Please sign in again.")
    elif action == Action.BLOCK:
        text = _(
            "We stopped this sign-in to protect your account and emailed you about it. "
            "If it was you, try again from a device and network you usually use."
        )
    else:
        text = _("For your protection, we signed you out. Please sign in again.")
    messages.warning(request, text)


class SessionContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        device_id_of(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            action = risk_enforce(request=request) or session_touch(request=request)
            if action:
                session_ended_message(request, action)
        response = self.get_response(request)
        session_key_follow(request=request)
        device_cookie_set(request, response)
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        match = request.resolver_match
        if match is None or EXEMPT_NAMESPACES & set(match.namespaces):
            return None
        names = EXEMPT_VIEW_NAMES | set(app_settings.STEP_UP_EXEMPT_VIEWS)
        if match.view_name in names:
            return None
        if risk_step_up_pending(request=request) is None:
            return None
        try:
            url = reverse(app_settings.STEP_UP_URL)
        except NoReverseMatch:
            return None
        return HttpResponseRedirect(url + "?" + urlencode({"next": request.get_full_path()}))
