"""The provider's own pages: home, brand stylesheet, the demo client's landing page."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from oauth2_provider.settings import oauth2_settings

from sessions_ctx.selectors import session_auth_state

from ..app_settings import app_settings
from ..interaction.pages import error_page
from .discovery import cached_response


@require_GET
def brand_css(request: HttpRequest) -> HttpResponse:
    """CSS custom properties from the CIAM_BRAND_* settings (no inline styles under CSP)."""
    body, etag = _brand_css_bytes()
    response = cached_response(request, body, etag, 3600)
    response["Content-Type"] = "text/css; charset=utf-8"
    return response


@lru_cache(maxsize=1)
def _brand_css_bytes() -> tuple[bytes, str]:
    color = app_settings.BRAND_COLOR
    if not re.fullmatch(r"#[0-9a-fA-F]{3,8}", color):
        color = "#1f5fbf"
    body = f":root {{ --brand-color: {color}; }}\n".encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "ciam/home.html", {"auth_state": session_auth_state(request)})


@never_cache
@require_GET
def demo_callback(request: HttpRequest) -> HttpResponse:
    """Landing page of the demo client (``setup_demo``): shows the code and how to redeem it."""
    if not app_settings.DEMO:
        return error_page(request, "not_found", _("The demo is not enabled."), 404)
    return render(
        request,
        "ciam/demo_callback.html",
        {
            "code": request.GET.get("code", "")[:512],
            "state": request.GET.get("state", "")[:512],
            "error": request.GET.get("error", "")[:128],
            "error_description": request.GET.get("error_description", "")[:512],
            "token_endpoint": oauth2_settings.OIDC_ISS_ENDPOINT + reverse("oidc:token"),
            "redirect_uri": oauth2_settings.OIDC_ISS_ENDPOINT + reverse("oidc:demo-callback"),
        },
    )
