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
from ..context_processors import BRAND_CSS_CLIENT_PARAMETER, branded_client
from ..interaction.pages import error_page
from ..oauth.client_cache import application_cached
from .discovery import cached_response


@require_GET
def brand_css(request: HttpRequest) -> HttpResponse:
    """CSS custom properties from the CIAM_BRAND_* settings (no inline styles under CSP).

    ``?client=<client_id>``: the colour of that client (the sign-in pages of its
    users link this, ciam/context_processors.py); an unknown or malformed client, or one
    without a colour of its own, gets the provider's.
    """
    client_id = request.GET.get(BRAND_CSS_CLIENT_PARAMETER, "")
    color = _client_brand_color(client_id) if client_id else ""
    if color:
        body, etag = _brand_css_for(color)
        max_age = 300  # a client's colour may change: seen within minutes
    else:
        body, etag = _brand_css_bytes()
        max_age = 3600
    response = cached_response(request, body, etag, max_age)
    response["Content-Type"] = "text/css; charset=utf-8"
    return response


def _client_brand_color(client_id: str) -> str:
    """The brand colour of the client ``client_id``, or "" (unknown, malformed or without
    one)."""
    if len(client_id) > 255 or not client_id.isprintable():
        return ""
    client = application_cached(client_id)
    if not branded_client(client):
        return ""
    color = getattr(client, "brand_color", "") or ""
    return color if _BRAND_COLOR.fullmatch(color) else ""


_BRAND_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")


def _brand_css_for(color: str) -> tuple[bytes, str]:
    body = f":root {{ --brand-color: {color}; }}\n".encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


@lru_cache(maxsize=1)
def _brand_css_bytes() -> tuple[bytes, str]:
    color = app_settings.BRAND_COLOR
    if not _BRAND_COLOR.fullmatch(color):
        color = "#1f5fbf"
    return _brand_css_for(color)


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
