"""Pages of the second factor. Thin: validate, call a service, respond."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ciam.interaction import PendingAuthorization
from ciam.interaction.pages import cancel_to_client, step_continue, step_page
from sessions_ctx.device import device_id_of
from sessions_ctx.policy import session_second_factor_missing
from sessions_ctx.services.reauthentication import (
    ReauthenticationThrottled,
    reauthentication_retry_after,
)
from sessions_ctx.throttle import too_many_requests

from ..passkeys.selectors import session_recently_authenticated, user_has_passkey
from .app_settings import app_settings
from .constants import REMEMBER_COOKIE_NAME, SESSION_KEY_NEW_RECOVERY_CODES
from .decorators import second_factor_required
from .forms import ConfirmTotpForm, ReauthenticationForm, SecondFactorForm
from .selectors import (
    Outcome,
    UnmetReason,
    authentication_is_recent,
    failed_attempts_retry_after,
    failure_limits,
    recovery_codes_remaining,
    remembered_device_valid,
    second_factor_decision,
    session_needs_second_factor,
    totp_device_confirmed,
    totp_provisioning,
)
from .services import (
    CodeCheck,
    reauthentication_verify,
    recovery_codes_generate,
    remembered_device_cookie_value,
    second_factor_verify,
    totp_confirm,
    totp_disable,
    totp_enrol_start,
)


def _code_error(result: CodeCheck) -> str:
    if result is CodeCheck.REUSED:
        return _("This code was already used. Wait for the next code in your authenticator app.")
    if result is CodeCheck.THROTTLED:
        return _("Too many attempts in a row. Wait a few seconds and try again.")
    return _("That code is not right. Check your authenticator app and try again.")


def _rate_limited(request: HttpRequest, retry_after: int) -> HttpResponse:
    """HTTP 429 (RFC 6585 4) with Retry-After, once too many codes were wrong."""
    response = render(
        request,
        "accounts/mfa/rate_limited.html",
        {"minutes": max(1, math.ceil(retry_after / 60))},
    )
    return too_many_requests(response, retry_after=retry_after)


def _safe_next(request: HttpRequest) -> str:
    """A same-site path to return to after set-up (e.g. back into a sign-in request)."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if next_url.startswith("/") and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return ""


def _posted(request: HttpRequest) -> QueryDict | None:
    """The submitted data for a bound form; None (an unbound form) on GET."""
    return request.POST if request.method == "POST" else None


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


# --- account pages ----------------------------------------------------------------------------


@never_cache
@login_required
@second_factor_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    device = totp_device_confirmed(user=request.user)
    return render(
        request,
        "accounts/mfa/overview.html",
        {
            "totp": device,
            "recovery_codes_remaining": recovery_codes_remaining(user=request.user),
            "browser_remembered": remembered_device_valid(request=request, user=request.user),
        },
    )


@never_cache
@login_required
@second_factor_required
@require_http_methods(["GET", "POST"])
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: QR code and key, then a current code confirms it."""
    next_url = _safe_next(request)
    if totp_device_confirmed(user=request.user) is not None:
        messages.info(request, _("Two-step verification is already on."))
        return HttpResponseRedirect(next_url or reverse("mfa:overview"))
    if not authentication_is_recent(request=request):
        # Changing how the account signs in needs a fresh sign-in (a stolen session must not
        # be able to lock its owner out).
        return render(
            request,
            "accounts/mfa/totp_enrol.html",
            {
                "sign_in_again_url": _with_next(reverse("account_login"), request.get_full_path()),
                "next_url": next_url,
            },
        )
    form = ConfirmTotpForm(_posted(request))
    if request.method == "POST":
        retry_after = failed_attempts_retry_after(request=request)
        if retry_after:
            return _rate_limited(request, retry_after)
        if form.is_valid():
            result, codes = totp_confirm(request=request, code=form.cleaned_data["code"])
            if result.ok:
                request.session[SESSION_KEY_NEW_RECOVERY_CODES] = codes
                messages.success(request, _("Two-step verification is on."))
                return HttpResponseRedirect(_with_next(reverse("mfa:recovery-codes"), next_url))
            form.add_error("code", _code_error(result))
    device = totp_enrol_start(user=request.user)
    return render(
        request,
        "accounts/mfa/totp_enrol.html",
        {
            "form": form,
            "provisioning": totp_provisioning(device=device, user=request.user),
            "next_url": next_url,
        },
    )


@never_cache
@login_required
@second_factor_required
@require_http_methods(["GET", "POST"])
def totp_remove(request: HttpRequest) -> HttpResponse:
    """Turn two-step verification off, after the password or a current code."""
    if totp_device_confirmed(user=request.user) is None:
        return HttpResponseRedirect(reverse("mfa:overview"))

    def turn_off() -> HttpResponse:
        totp_disable(user=request.user, request=request)
        messages.success(request, _("Two-step verification is off."))
        return HttpResponseRedirect(reverse("mfa:overview"))

    return _after_reauthentication(request, turn_off, "accounts/mfa/totp_remove.html")


def _after_reauthentication(
    request: HttpRequest,
    on_success: Callable[[], HttpResponse],
    template: str,
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """The re-authentication form (password or a current code) guarding a sensitive action:
    on a valid POST ``on_success`` runs; otherwise the page, with the error if any. Past
    the re-authentication budget or this package's budget of wrong codes, 429."""
    form = ReauthenticationForm(_posted(request))
    if request.method == "POST":
        retry_after = reauthentication_retry_after(request=request, also=failure_limits(request))
        if retry_after:
            return _rate_limited(request, retry_after)
        if form.is_valid():
            try:
                result = reauthentication_verify(
                    request=request,
                    password=form.cleaned_data["password"],
                    code=form.cleaned_data["code"],
                )
            except ReauthenticationThrottled as error:
                return _rate_limited(request, error.retry_after)
            if result.ok:
                return on_success()
            form.add_error(None, _reauthentication_error(result))
    return render(request, template, {"form": form, **(context or {})})


def _reauthentication_error(result: CodeCheck) -> str:
    if result is CodeCheck.REJECTED:
        return _("That password or code is not right.")
    return _code_error(result)


@never_cache
@login_required
@second_factor_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes are shown once, right after they were made; otherwise this page
    makes new ones (after the password or a current code), which invalidates the old."""
    new_codes = request.session.pop(SESSION_KEY_NEW_RECOVERY_CODES, None)
    if new_codes:
        return render(
            request,
            "accounts/mfa/recovery_codes.html",
            {"codes": new_codes, "next_url": _safe_next(request)},
        )
    if totp_device_confirmed(user=request.user) is None:
        return HttpResponseRedirect(reverse("mfa:overview"))

    def make_new_codes() -> HttpResponse:
        request.session[SESSION_KEY_NEW_RECOVERY_CODES] = recovery_codes_generate(
            user=request.user, request=request
        )
        return HttpResponseRedirect(reverse("mfa:recovery-codes"))

    return _after_reauthentication(
        request,
        make_new_codes,
        "accounts/mfa/recovery_codes.html",
        {"remaining": recovery_codes_remaining(user=request.user)},
    )


@never_cache
@login_required
@second_factor_required
@require_POST
def forget_browser(request: HttpRequest) -> HttpResponse:
    response = HttpResponseRedirect(reverse("mfa:overview"))
    response.delete_cookie(REMEMBER_COOKIE_NAME, samesite="Lax")
    messages.success(request, _("This browser will ask for a code again."))
    return response


# --- during an authorization request ----------------------------------------------------------


@step_page
def verify(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """The second factor for a pending authorization request (steps.SecondFactorStep).

    Shows the code form when a code will do, or a page explaining an unmet requirement
    (with a way to set up an authenticator app when that would meet it). "Cancel" sends
    ``access_denied`` back to the client (RFC 6749 4.1.2.1).
    """
    decision = second_factor_decision(request=request, pending=pending)
    if request.method == "POST" and request.POST.get("action") == "cancel":
        description = (
            "The user did not meet the required authentication level."
            if decision.outcome is Outcome.UNMET
            else "The user did not complete the second factor."
        )
        return cancel_to_client(request, pending, description)
    if decision.outcome in (Outcome.SATISFIED, Outcome.SIGN_IN):
        return step_continue(pending)
    if decision.outcome is Outcome.UNMET:
        enrol_url = sign_in_again_url = ""
        if decision.reason is UnmetReason.NO_SECOND_FACTOR:
            enrol_url = _with_next(reverse("mfa:totp"), request.path)
        elif decision.reason in (UnmetReason.PASSKEY_REQUIRED, UnmetReason.FIRST_FACTOR_TOO_WEAK):
            # Signing in again with a passkey ("phr"/"phrh"), or with the password and then
            # the code ("2"), reaches the level; the request continues after it.
            sign_in_again_url = _with_next(reverse("account_login"), pending.resume_url)
        passkey_needed = decision.reason is UnmetReason.PASSKEY_REQUIRED
        has_passkey = passkey_needed and user_has_passkey(request.user)
        return render(
            request,
            "accounts/mfa/unmet.html",
            {
                "pending": pending,
                "client_name": pending.client_name,
                "reason": decision.reason.value if decision.reason else "",
                "enrol_url": enrol_url,
                "sign_in_again_url": sign_in_again_url,
                # A passkey is required: sign in with one right here, or, having just
                # proven what the account has, add one here and then use it.
                "passkey_sign_in": has_passkey,
                "passkey_create": passkey_needed
                and not has_passkey
                and session_recently_authenticated(request)
                and not session_second_factor_missing(request),
            },
        )

    return _code_form(
        request,
        success_url=pending.resume_url,
        context={
            "action_url": reverse("mfa:verify", args=[pending.id]),
            "pending": pending,
            "client_name": pending.client_name,
            "step_up": decision.step_up,
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify_session(request: HttpRequest) -> HttpResponse:
    """The second factor for the account pages (decorators.second_factor_required and
    middleware.SecondFactorMiddleware send one-factor sessions here)."""
    next_url = _safe_next(request) or reverse("mfa:overview")
    if not session_needs_second_factor(request=request):
        return HttpResponseRedirect(next_url)
    return _code_form(
        request,
        success_url=next_url,
        context={"action_url": _with_next(reverse("mfa:verify-session"), next_url)},
    )


def _code_form(request: HttpRequest, *, success_url: str, context: dict) -> HttpResponse:
    """The code form: on success the session has the factor (and, if asked, the browser is
    remembered); past the failure limit, 429."""
    days = app_settings.REMEMBER_DEVICE_DAYS
    form = SecondFactorForm(_posted(request), remember_days=days)
    if request.method == "POST":
        retry_after = failed_attempts_retry_after(request=request)
        if retry_after:
            return _rate_limited(request, retry_after)
        if form.is_valid():
            result, _state = second_factor_verify(request=request, code=form.cleaned_data["code"])
            if result.ok:
                response = HttpResponseRedirect(success_url)
                if form.cleaned_data.get("remember"):
                    _remember_browser(request, response, days)
                return response
            form.add_error("code", _code_error(result))
    return render(request, "accounts/mfa/verify.html", {"form": form, **context})


def _remember_browser(request: HttpRequest, response: HttpResponse, days: int) -> None:
    value = remembered_device_cookie_value(user=request.user, device_id=device_id_of(request))
    if value is None:
        return
    response.set_cookie(
        REMEMBER_COOKIE_NAME,
        value,
        max_age=days * 24 * 3600,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
