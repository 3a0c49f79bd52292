"""Every page of a signed-in user who has an authenticator app needs the second factor.

Sign-in (allauth) completes after the password: the interaction pipeline then asks for the
code before an authorization code is issued (steps.SecondFactorStep). The provider's own
pages (account overview, email and password changes, the admin) are not behind that
pipeline, so without this middleware a password alone would open them. It sends such
sessions to the code page first.

Exempt: the OpenID Provider endpoints (namespace ``oidc``: the pipeline decides there, and
token, userinfo and logout carry no page), the code pages themselves, signing in again or
out, switching language, and what the code page itself loads or browsers fetch on their own
(the brand style sheet, static files, favicon.ico, robots.txt): redirected, the code page
would lose its brand colour. Unauthenticated requests and users without an authenticator
app pass untouched, after a check of the URL name and path (no query).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .decorators import second_factor_redirect
from .selectors import session_needs_second_factor

EXEMPT_NAMESPACES = frozenset({"oidc"})
EXEMPT_VIEW_NAMES = frozenset(
    {
        "mfa:verify",
        "mfa:verify-session",
        "account_login",
        "account_logout",
        "set_language",
        # Loaded by the code page itself (its brand colour) or by browsers on their own.
        "brand-css",
        "favicon",
        "robots",
        "javascript-catalog",
        # A passkey sign-in is stronger than the code it would otherwise be sent to enter.
        "passkeys:authenticate-begin",
        "passkeys:authenticate-complete",
    }
)

# Files every page loads or browsers fetch unasked, whatever their URL name (or none).
EXEMPT_PATHS = frozenset({"/brand.css", "/favicon.ico", "/robots.txt"})


def _exempt_path(path: str) -> bool:
    static_url = str(settings.STATIC_URL or "")
    return path in EXEMPT_PATHS or (static_url.startswith("/") and path.startswith(static_url))


class SecondFactorMiddleware:
    """Place after AuthenticationMiddleware, allauth's AccountMiddleware and
    MessageMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

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
        if _exempt_path(request.path_info):
            return None
        match = request.resolver_match
        if match is not None and (
            EXEMPT_NAMESPACES & set(match.namespaces) or match.view_name in EXEMPT_VIEW_NAMES
        ):
            return None
        if session_needs_second_factor(request=request):
            return second_factor_redirect(request)
        return None
