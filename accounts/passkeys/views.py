"""Passkey pages and the JSON endpoints their scripts call. Thin: parse, call one service,
respond. The JSON endpoints answer errors as {"error": code, "message": text}."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ciam.interaction import PendingAuthorization
from ciam.interaction.pages import step_continue, step_page
from sessions_ctx.services.sessions import keep_signed_in_choose
from sessions_ctx.throttle import too_many_requests

from .forms import ConfirmPasswordForm, PasskeyRenameForm
from .models import Passkey
from .selectors import passkey_is_last_way_in, passkeys_of, session_recently_authenticated
from .services import (
    PasskeyError,
    passkey_authenticate_begin,
    passkey_authenticate_complete,
    passkey_confirm_complete,
    passkey_offer_dismiss,
    passkey_reenable,
    passkey_reenable_refusal,
    passkey_register_begin,
    passkey_register_complete,
    passkey_remove,
    passkey_rename,
    session_confirm_password,
)

ResponseT = TypeVar("ResponseT", bound=HttpResponse)


def _json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _json_error(error: PasskeyError) -> JsonResponse:
    return _with_retry_after(
        _json({"error": error.code, "message": error.message}, status=error.status), error
    )


def _with_retry_after(response: ResponseT, error: PasskeyError | None) -> ResponseT:
    """A refusal for too many failures is HTTP 429 with Retry-After (RFC 6585 4)."""
    if error is not None and error.status == 429:
        return too_many_requests(response, retry_after=error.retry_after)
    return response


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise PasskeyError("invalid_request", _("The request could not be read.")) from error
    if not isinstance(data, dict):
        raise PasskeyError("invalid_request", _("The request could not be read."))
    return data


def _credential(data: dict[str, Any]) -> dict[str, Any]:
    credential = data.get("credential")
    if not isinstance(credential, dict):
        raise PasskeyError("invalid_request", _("The request could not be read."))
    return credential


def json_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return _json(
                {"error": "login_required", "message": _("Sign in again to continue.")},
                status=401,
            )
        return view(request, *args, **kwargs)

    return wrapper


def safe_next_url(request: HttpRequest, url: str) -> str:
    """``url`` when it stays on this site, else the default landing page."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


# --- sign-in -----------------------------------------------------------------------------------


@never_cache
@require_POST
def authenticate_begin(request: HttpRequest) -> HttpResponse:
    return _json(passkey_authenticate_begin(request=request))


@never_cache
@require_POST
def authenticate_complete(request: HttpRequest) -> HttpResponse:
    try:
        data = _json_body(request)
        if isinstance(data.get("remember"), bool):
            keep_signed_in_choose(request=request, keep=data["remember"])
        passkey_authenticate_complete(request=request, credential=_credential(data))
    except PasskeyError as error:
        return _json_error(error)
    return _json({"redirect": safe_next_url(request, str(data.get("next") or ""))})


@never_cache
@require_POST
@json_login_required
def confirm_complete(request: HttpRequest) -> HttpResponse:
    """A passkey as the signed-in user's proof (the risk step-up page)."""
    try:
        data = _json_body(request)
        passkey_confirm_complete(request=request, credential=_credential(data))
    except PasskeyError as error:
        return _json_error(error)
    return _json({"redirect": safe_next_url(request, str(data.get("next") or ""))})


# --- registration ------------------------------------------------------------------------------


@never_cache
@require_POST
@json_login_required
def register_begin(request: HttpRequest) -> HttpResponse:
    try:
        return _json(passkey_register_begin(request=request, user=request.user))
    except PasskeyError as error:
        return _json_error(error)


@never_cache
@require_POST
@json_login_required
def register_complete(request: HttpRequest) -> HttpResponse:
    try:
        data = _json_body(request)
        passkey = passkey_register_complete(
            request=request,
            user=request.user,
            credential=_credential(data),
            name=str(data.get("name") or ""),
        )
    except PasskeyError as error:
        return _json_error(error)
    messages.success(request, _("Passkey “%(name)s” added.") % {"name": passkey.name})
    return _json({"id": passkey.pk, "name": passkey.name})


# --- management pages --------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest) -> HttpResponse:
    """The list of passkeys; POST confirms the password when the sign-in is too old to add
    or remove one."""
    form = ConfirmPasswordForm(request.POST or None)
    status = 200
    refusal: PasskeyError | None = None
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                session_confirm_password(
                    request=request, user=request.user, password=form.cleaned_data["password"]
                )
            except PasskeyError as error:
                form.add_error("password", error.message)
                status, refusal = error.status, error
            else:
                return HttpResponseRedirect(reverse("passkeys:manage"))
    response = render(
        request,
        "passkeys/manage.html",
        {
            "passkeys": passkeys_of(request.user),
            "recently_authenticated": session_recently_authenticated(request),
            "has_password": request.user.has_usable_password(),
            "form": form,
        },
        status=status,
    )
    return _with_retry_after(response, refusal)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def rename(request: HttpRequest, passkey_id: int) -> HttpResponse:
    passkey = get_object_or_404(Passkey, user=request.user, pk=passkey_id)
    form = PasskeyRenameForm(request.POST or None, initial={"name": passkey.name})
    if request.method == "POST" and form.is_valid():
        try:
            passkey = passkey_rename(
                user=request.user, passkey_id=passkey.pk, name=form.cleaned_data["name"]
            )
        except PasskeyError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Passkey renamed to “%(name)s”.") % {"name": passkey.name})
            return HttpResponseRedirect(reverse("passkeys:manage"))
    return render(
        request,
        "passkeys/rename.html",
        {"passkey": passkey, "form": form},
        status=400 if form.errors else 200,
    )


def _confirm_password_if_asked(request: HttpRequest, form: ConfirmPasswordForm | None) -> None:
    """The password confirmation a page asked for (``form``), if any; PasskeyError when it
    is missing or wrong (re-authentication moves the session's auth_time)."""
    if form is None:
        return
    if not form.is_valid():
        raise PasskeyError("wrong_password", _("Enter your password."))
    session_confirm_password(
        request=request, user=request.user, password=form.cleaned_data["password"]
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    """Confirmation page; removing needs a recent sign-in (the password is asked here when
    the sign-in is older) and is refused for the last way to sign in."""
    passkey = get_object_or_404(Passkey, user=request.user, pk=passkey_id)
    has_password = request.user.has_usable_password()
    needs_password = has_password and not session_recently_authenticated(request)
    form = ConfirmPasswordForm(request.POST or None) if needs_password else None
    error_message = ""
    status = 200
    refusal: PasskeyError | None = None
    if request.method == "POST":
        try:
            _confirm_password_if_asked(request, form)
            removed = passkey_remove(request=request, user=request.user, passkey_id=passkey.pk)
        except PasskeyError as error:
            error_message = error.message
            status, refusal = error.status, error
        else:
            messages.success(request, _("Passkey “%(name)s” removed.") % {"name": removed.name})
            return HttpResponseRedirect(reverse("passkeys:manage"))
    response = render(
        request,
        "passkeys/remove.html",
        {
            "passkey": passkey,
            "last_way_in": passkey_is_last_way_in(passkey),
            "recently_authenticated": session_recently_authenticated(request),
            "has_password": has_password,
            "form": form,
            "error_message": error_message,
        },
        status=status,
    )
    return _with_retry_after(response, refusal)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def reenable(request: HttpRequest, passkey_id: int) -> HttpResponse:
    """Confirmation page for switching a disabled passkey back on: it needs a sign-in by
    another method since it was disabled (the password is asked here when there is one)."""
    passkey = get_object_or_404(Passkey, user=request.user, pk=passkey_id)
    if not passkey.is_disabled:
        return HttpResponseRedirect(reverse("passkeys:manage"))
    has_password = request.user.has_usable_password()
    refusal = passkey_reenable_refusal(request, passkey)
    needs_password = has_password and refusal is not None
    form = ConfirmPasswordForm(request.POST or None) if needs_password else None
    error_message = ""
    status = 200
    error: PasskeyError | None = None
    if request.method == "POST":
        try:
            _confirm_password_if_asked(request, form)
            enabled = passkey_reenable(request=request, user=request.user, passkey_id=passkey.pk)
        except PasskeyError as refused:
            error_message = refused.message
            status, error = refused.status, refused
        else:
            messages.success(request, _("Passkey “%(name)s” enabled.") % {"name": enabled.name})
            return HttpResponseRedirect(reverse("passkeys:manage"))
    response = render(
        request,
        "passkeys/reenable.html",
        {
            "passkey": passkey,
            "may_reenable": refusal is None,
            "has_password": has_password,
            "form": form,
            "error_message": error_message,
        },
        status=status,
    )
    return _with_retry_after(response, error)


# --- the offer after signing in ----------------------------------------------------------------


@step_page
def offer(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """The offer to sign in faster next time: create a passkey now, or "Not now" (which is
    remembered, and satisfies steps.PasskeyOfferStep)."""
    if request.method == "POST":
        passkey_offer_dismiss(user=request.user)
        return step_continue(pending)
    return render(
        request,
        "passkeys/offer.html",
        {"pending": pending, "client_name": pending.client_name},
    )
