"""What every hosted page knows: the brand it shows.

During a client's sign-in the pages wear that client's brand: its name, logo and colour
(``Application.name``, ``logo_url``, ``brand_color``), each falling back to the provider's
(CIAM_BRAND_*). ``provider_brand_name`` stays the provider's, for the pages that must name
it (the consent page: "... is not part of ...").

A page belongs to a client's sign-in when its URL names a pending authorization
(``<pending_id>``, the step pages) or its ``next`` leads back to one (the sign-in pages).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse

from .app_settings import app_settings
from .interaction.pending import PendingAuthorization, pending_from_next_url, pending_load

# brand.css?client=<client_id> (ciam/views/pages.py): the stylesheet of a client's colour.
BRAND_CSS_CLIENT_PARAMETER = "client"


def branded_client(client: Any) -> bool:
    """Whether ``client`` signs its users in under its own brand: every client (its name,
    logo and colour); the consent page still names the provider (provider_brand_name)."""
    return client is not None


def _pending_of_page(request: HttpRequest) -> PendingAuthorization | None:
    if not hasattr(request, "session"):
        return None
    match = getattr(request, "resolver_match", None)
    pending_id = match.kwargs.get("pending_id") if match is not None else None
    if isinstance(pending_id, str) and pending_id:
        return pending_load(request, pending_id)
    try:
        next_url = request.GET.get("next") or request.POST.get("next") or ""
    except (BadRequest, SuspiciousOperation, MultiPartParserError, ValueError, OSError):
        # Too many fields, too big, unreadable, a form not in UTF-8 (Django refuses those):
        # the error page this is for has no client.
        return None
    if not isinstance(next_url, str) or not next_url:
        return None
    return pending_from_next_url(request, next_url)


def client_of_page(request: HttpRequest) -> Any | None:
    """The client whose sign-in this page is part of, or None."""
    cached = getattr(request, "_ciam_branded_client", False)
    if cached is not False:
        return cached
    pending = _pending_of_page(request)
    client = pending.client if pending is not None else None
    request._ciam_branded_client = client  # type: ignore[attr-defined]
    return client


def branding(request: HttpRequest) -> dict[str, str]:
    """Name, logo and colour of the hosted pages, and the stylesheet URL that carries the
    colour (CSP: no inline styles): the client's during that client's sign-in, the
    provider's (CIAM_BRAND_* settings) elsewhere."""
    context = {
        "brand_name": app_settings.BRAND_NAME,
        "brand_logo_url": app_settings.BRAND_LOGO_URL,
        "brand_color": app_settings.BRAND_COLOR,
        "brand_css_url": reverse("brand-css"),
        "provider_brand_name": app_settings.BRAND_NAME,
    }
    client = client_of_page(request)
    if client is None or not branded_client(client):
        return context
    if client.name:
        context["brand_name"] = client.name
    if client.logo_url:
        context["brand_logo_url"] = client.logo_url
    if client.brand_color:
        context["brand_color"] = client.brand_color
        query = urlencode({BRAND_CSS_CLIENT_PARAMETER: client.client_id})
        context["brand_css_url"] = f"{reverse('brand-css')}?{query}"
    return context
