"""The admin's Content-Security-Policy.

The hosted pages allow no inline script or style (ciam.middleware). The admin's theme
(django-unfold) needs two exceptions: Alpine.js evaluates its ``x-*`` attributes with
``Function`` ('unsafe-eval'), and the brand palette is an inline ``<style>`` block
('unsafe-inline' for styles). Only /admin/ gets them; everything else stays as strict.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

ADMIN_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)


class AdminContentSecurityPolicyMiddleware:
    """Sets the admin's policy on its HTML responses; the outer ciam middleware only sets
    its own where none is set yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(reverse("admin:index")) and response.get(
            "Content-Type", ""
        ).startswith("text/html"):
            response["Content-Security-Policy"] = ADMIN_CONTENT_SECURITY_POLICY
        return response
