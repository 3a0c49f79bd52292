"""/favicon.ico: browsers ask for it on every page, whatever the page links to."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

ICON_PATH = "img/favicon.ico"
MAX_AGE_SECONDS = 86400


@lru_cache(maxsize=1)
def _icon_bytes() -> bytes | None:
    found = finders.find(ICON_PATH)
    if not found:
        return None
    return Path(str(found)).read_bytes()


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """The site's icon (static/img/favicon.ico), cached by browsers for a day."""
    body = _icon_bytes()
    if body is None:
        raise Http404("No icon.")
    response = HttpResponse(body, content_type="image/x-icon")
    response["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    return response
