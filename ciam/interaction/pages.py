"""The toolkit of step pages: what every page of the interaction pipeline does the same way.

A step page is a view ``(request, pending) -> response`` decorated with ``@step_page``: the
decorator loads the pending request named in the URL (or shows the expired page) and, unless
``sign_in_required=False``, sends a signed-out browser to the sign-in page, which comes back
to the request. The page then ends in one of three ways:

- ``step_continue(pending)``: the step is satisfied by what the page stored (a consent
  record, a verified factor); the pipeline runs again and checks it;
- ``step_done(request, pending, name)``: the page itself satisfies the step for this
  interaction only (``pending.done``), as "Not now" on an optional offer does;
- ``cancel_to_client(request, pending, description)``: the user gave up; the client receives
  ``access_denied`` (RFC 6749 4.1.2.1) or the error named.

Compare authentik's ``StageView`` ending with ``executor.stage_ok()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from oauth2_provider.settings import oauth2_settings

from ciam.models import is_private_use_scheme

from .pending import PendingAuthorization, pending_discard, pending_load, pending_save

StepView = Callable[[HttpRequest, PendingAuthorization], HttpResponse]


class ClientRedirect(HttpResponseRedirect):
    """A redirect to a client's registered URI (custom schemes of native apps allowed)."""

    @property
    def allowed_schemes(self) -> list[str]:  # type: ignore[override]
        schemes = list(oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES)
        scheme = urlsplit(self["Location"]).scheme.lower()
        if is_private_use_scheme(scheme):  # RFC 8252 7.1
            schemes.append(scheme)
        return schemes


# oauthlib's error descriptions (oauthlib.oauth2.rfc6749.errors, the grant types) are
# English and meant for developers; on the error page a person reads them in the page's
# language. Only those that reach the page are here: the errors that cannot go back to the
# client (RFC 6749 4.1.2.1: unknown client, unregistered redirect_uri), and the provider's own.
# The error code stays on the page, untranslated, for the developer.
OAUTHLIB_DESCRIPTIONS = {
    "Invalid client_id parameter value.": gettext_lazy(
        "The application that sent you here is not registered with us (unknown client_id)."
    ),
    "Missing client_id parameter.": gettext_lazy(
        "The application that sent you here did not say who it is (client_id is missing)."
    ),
    "Mismatching redirect URI.": gettext_lazy(
        "The address to return to is not registered for this application (redirect_uri "
        "does not match)."
    ),
    "Invalid redirect URI.": gettext_lazy("The address to return to is not valid (redirect_uri)."),
    "Missing redirect URI.": gettext_lazy(
        "The application did not say where to return to (redirect_uri is missing)."
    ),
    "Unable to parse query string": gettext_lazy("The authorization request could not be read."),
    "The authorization request is too large.": gettext_lazy(
        "The authorization request is too large."
    ),
    "Missing response_type parameter.": gettext_lazy(
        "The authorization request is incomplete (response_type is missing)."
    ),
    "Code challenge required.": gettext_lazy(
        "This application must protect its sign-in with PKCE (code_challenge is missing)."
    ),
    "Transform algorithm not supported.": gettext_lazy(
        "The application asked for an unsupported code_challenge_method."
    ),
    "Request is missing mandatory nonce parameter.": gettext_lazy(
        "The authorization request is incomplete (nonce is missing)."
    ),
    "Malformed claims parameter": gettext_lazy("The claims parameter is malformed."),
    "OAuth 2 MUST utilize https.": gettext_lazy("This request must use HTTPS."),
}
# "Duplicate client_id parameter." and the like (oauthlib's grant types).
DUPLICATE_PARAMETER = re.compile(r"Duplicate (?P<name>[a-z_]{1,40}) parameter\.")


def error_description_for_people(description: str) -> str:
    """``description`` in the active language when it is one of oauthlib's English ones
    (OAUTHLIB_DESCRIPTIONS); any other (already translated) text as it is."""
    known = OAUTHLIB_DESCRIPTIONS.get(description)
    if known is not None:
        return str(known)
    duplicate = DUPLICATE_PARAMETER.fullmatch(description)
    if duplicate is not None:
        return _("The %(name)s parameter appears more than once in the request.") % {
            "name": duplicate["name"]
        }
    return description


def error_page(
    request: HttpRequest, error: str, description: str = "", status: int = 400
) -> HttpResponse:
    """A readable error page (never cached) for what cannot go back to a client; oauthlib's
    English descriptions are shown in the page's language."""
    response = render(
        request,
        "ciam/error.html",
        {"error": error, "error_description": error_description_for_people(str(description))},
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


def expired_page(request: HttpRequest) -> HttpResponse:
    """The page for a pending request that is unknown to this session or too old."""
    return error_page(
        request,
        "request_expired",
        _("This sign-in request has expired. Go back to the application and try again."),
    )


def step_page(
    view: StepView | None = None,
    *,
    sign_in_required: bool = True,
    methods: tuple[str, ...] = ("GET", "POST"),
) -> Any:
    """Decorate a step page ``view(request, pending)`` routed as ``<pending_id>`` (module
    docstring). The response is never cached."""

    def decorate(view: StepView) -> Callable[..., HttpResponse]:
        @never_cache
        @require_http_methods(list(methods))
        @wraps(view)
        def wrapper(request: HttpRequest, pending_id: str) -> HttpResponse:
            pending = pending_load(request, pending_id)
            if pending is None:
                return expired_page(request)
            if sign_in_required and not request.user.is_authenticated:
                return redirect_to_login(pending.resume_url)
            return view(request, pending)

        return wrapper

    return decorate(view) if view is not None else decorate


def step_continue(pending: PendingAuthorization) -> HttpResponse:
    """Back to the pipeline, which checks the step again (it is satisfied by stored data)."""
    return HttpResponseRedirect(pending.resume_url)


def step_done(request: HttpRequest, pending: PendingAuthorization, name: str) -> HttpResponse:
    """Mark step ``name`` done for this interaction and go back to the pipeline."""
    if name not in pending.done:
        pending.done.append(name)
    pending_save(request, pending)
    return HttpResponseRedirect(pending.resume_url)


def cancel_to_client(
    request: HttpRequest,
    pending: PendingAuthorization,
    description: str = "",
    *,
    error: str = "access_denied",
) -> HttpResponse:
    """End the request: the client receives ``error`` at its redirect_uri."""
    pending_discard(request, pending.id)
    return ClientRedirect(pending.error_url(error, description))
