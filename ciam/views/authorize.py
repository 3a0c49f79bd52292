"""The authorization endpoint (OIDC Core 3.1.2) and its continuation after each step page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ..interaction import (
    PendingAuthorization,
    next_unsatisfied_step,
    pending_discard,
    pending_load,
    pending_save,
)
from ..interaction.pages import ClientRedirect, error_page, expired_page
from ..services.authorization import (
    AuthorizationDenied,
    AuthorizationFailed,
    authorization_issue_code,
    authorization_request_validate,
    language_for_ui_locales,
)


def request_params(request: HttpRequest) -> list[tuple[str, str]] | None:
    """The request's parameters, or None when they cannot be read (wrong content type,
    more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS, a form declaring a charset other than
    UTF-8)."""
    try:
        if request.method == "POST":
            if request.content_type != "application/x-www-form-urlencoded":
                return None
            source = request.POST
        else:
            source = request.GET
        return [(key, value) for key, values in source.lists() for value in values]
    except (TooManyFieldsSent, RequestDataTooBig, BadRequest):
        return None


def _continue_authorization(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    try:
        step = next_unsatisfied_step(request, pending)
        if step is None:
            url = authorization_issue_code(request=request, pending=pending)
            pending_discard(request, pending.id)
            return ClientRedirect(url)
        if "none" in pending.prompt:
            # OIDC Core 3.1.2.6: no page may be shown; the step's error goes to the client.
            pending_discard(request, pending.id)
            error = step.prompt_none_error_for(request, pending)
            return ClientRedirect(pending.error_url(error))
    except AuthorizationFailed as failure:
        return error_page(request, failure.error, failure.description, failure.status)
    except AuthorizationDenied as denied:
        pending_discard(request, pending.id)
        return ClientRedirect(denied.url)
    url = step.url(request, pending)
    if step.name not in pending.shown:
        pending.shown.append(step.name)
    pending_save(request, pending)
    return HttpResponseRedirect(url)


@csrf_exempt  # relying parties POST here from their own pages (OIDC Core 3.1.2.1)
@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    params = request_params(request)
    if params is None:
        return error_page(
            request, "invalid_request", _("The authorization request could not be read."), 400
        )
    try:
        pending = authorization_request_validate(params=params)
    except AuthorizationFailed as failure:
        return error_page(request, failure.error, failure.description, failure.status)
    except AuthorizationDenied as denied:
        return ClientRedirect(denied.url)
    if request.method == "POST":
        # A cross-site form post carries no SameSite=Lax session cookie; answering it with a
        # new session would sign the user out. Continue as a top-level GET, which carries it.
        return HttpResponseRedirect(f"{reverse('oidc:authorize')}?{urlencode(params)}", status=303)
    response = _continue_authorization(request, pending)
    language = language_for_ui_locales(pending.ui_locales)
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=settings.LANGUAGE_COOKIE_SECURE,
        )
    return response


@never_cache
@require_GET
def authorize_resume(request: HttpRequest, pending_id: str) -> HttpResponse:
    pending = pending_load(request, pending_id)
    if pending is None:
        return expired_page(request)
    return _continue_authorization(request, pending)
