"""View decorators of the second factor."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .selectors import session_needs_second_factor


def second_factor_redirect(request: HttpRequest) -> HttpResponse:
    """To the code page, then back to where the user was going (GET) or the overview."""
    next_url = request.get_full_path() if request.method == "GET" else reverse("mfa:overview")
    return HttpResponseRedirect(
        f"{reverse('mfa:verify-session')}?{urlencode({'next': next_url})}", status=303
    )


def second_factor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view runs only for sessions that have the second factor their user set up (or a
    remembered browser). Without it, a password alone would be enough to turn two-step
    verification off or to read new recovery codes."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if session_needs_second_factor(request=request):
            return second_factor_redirect(request)
        return view(request, *args, **kwargs)

    return wrapped
