"""Response headers for the hosted pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# No inline scripts or styles anywhere: the hosted pages work under this policy.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# form-action: browsers apply it to every redirect that follows a form post too. A sign-in,
# consent, step-up or logout form ends with a redirect to the relying party (or to a social
# login provider), so those pages go without it; the self-service portal's forms only ever
# come back to the portal, and its pages get form-action 'self' (URL namespaces below).
FORM_ACTION_SELF_NAMESPACES = frozenset(
    {"portal", "privacy", "personalization", "sessions", "profile_account"}
)
PORTAL_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY + "; form-action 'self'"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if content_type.startswith("text/html"):
            match = getattr(request, "resolver_match", None)
            portal = match is not None and match.namespace in FORM_ACTION_SELF_NAMESPACES
            response.setdefault(
                "Content-Security-Policy",
                PORTAL_CONTENT_SECURITY_POLICY if portal else CONTENT_SECURITY_POLICY,
            )
        return response
