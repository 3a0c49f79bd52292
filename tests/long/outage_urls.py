"""Views that fail as a database outage makes them fail, for tests/long/test_outage_unit.py:
a query raising OperationalError (in a page, and on a back-channel path), another error,
and a session that cannot be saved after the view."""

from __future__ import annotations

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path

from ciam import urls as provider

DOWN = "connection failed: connection to server at 127.0.0.1 failed: Connection refused"


def database_down(request: HttpRequest) -> HttpResponse:
    raise OperationalError(DOWN)


def database_down_inside(request: HttpRequest) -> HttpResponse:
    """A view that turns the database error into one of its own."""
    try:
        raise OperationalError(DOWN)
    except OperationalError as error:
        raise RuntimeError("could not load the client") from error


def bug(request: HttpRequest) -> HttpResponse:
    raise ValueError("a bug, not an outage")


def session_written(request: HttpRequest) -> HttpResponse:
    request.session["seen"] = True
    return HttpResponse("ok")


urlpatterns = [
    path("down", database_down),
    path("down-inside", database_down_inside),
    path("bug", bug),
    path("session", session_written),
    path("api/consent/down", database_down),
    *provider.urlpatterns,
]
# The provider's error pages, whichever ciam/urls.py names.
for _code in ("400", "403", "404", "500"):
    if hasattr(provider, f"handler{_code}"):
        globals()[f"handler{_code}"] = getattr(provider, f"handler{_code}")
