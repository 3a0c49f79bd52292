"""Email sign-in pages: ask, enter the code, open the link."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ciam.interaction import pending_from_next_url
from sessions_ctx.throttle import too_many_requests

from .app_settings import app_settings
from .forms import CodeForm, EmailForm, NumberForm
from .selectors import (
    email_sign_in_current,
    email_sign_in_poll_state,
    email_sign_in_state,
    resend_wait_seconds,
    safe_next_url,
)
from .services import (
    EmailSignInThrottled,
    EmailSignInUnavailable,
    Outcome,
    Result,
    email_sign_in_confirm_elsewhere,
    email_sign_in_finish_confirmed,
    email_sign_in_forget,
    email_sign_in_open_link,
    email_sign_in_resend,
    email_sign_in_start,
    email_sign_in_verify_code,
)

POLL_SECONDS = 3


def _require_enabled() -> None:
    if not app_settings.ENABLED:
        raise Http404


def wait_message(seconds: int, *, cooldown: bool = False) -> str:
    if cooldown or seconds < 120:
        return ngettext(
            "Please wait %(count)d second before asking again.",
            "Please wait %(count)d seconds before asking again.",
            seconds,
        ) % {"count": seconds}
    minutes = (seconds + 59) // 60
    return ngettext(
        "Too many attempts. Try again in %(count)d minute.",
        "Too many attempts. Try again in %(count)d minutes.",
        minutes,
    ) % {"count": minutes}


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int, retry_after: int
) -> HttpResponse:
    response = render(request, template, context, status=status)
    if status == 429:
        return too_many_requests(response, retry_after=retry_after)
    return response


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@never_cache
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """Ask for the email address; one email with a code and a link follows."""
    _require_enabled()
    next_url = safe_next_url(request.POST.get("next") or request.GET.get("next"))
    pending = pending_from_next_url(request, next_url)
    status, retry_after = 200, 0
    if request.method == "POST":
        form = EmailForm(request.POST)
        if form.is_valid():
            try:
                email_sign_in_start(
                    request=request, email=form.cleaned_data["email"], next_url=next_url
                )
            except EmailSignInThrottled as error:
                form.add_error(None, wait_message(error.retry_after, cooldown=error.cooldown))
                status, retry_after = 429, error.retry_after
            else:
                return redirect("passwordless:code")
    else:
        hint = request.GET.get("email") or (pending.login_hint if pending else "")
        form = EmailForm(initial={"email": hint} if "@" in hint else {})
    current = email_sign_in_current(request)
    context = {
        "form": form,
        "next_url": next_url,
        "client_name": pending.client_name if pending else "",
        "login_url": _with_next(reverse("account_login"), next_url),
        "current": current if email_sign_in_state(current) in ("waiting", "confirmed") else None,
    }
    return _render(
        request, "passwordless/start.html", context, status=status, retry_after=retry_after
    )


@never_cache
@require_http_methods(["GET", "POST"])
def code(request: HttpRequest) -> HttpResponse:
    """Enter the emailed code. Also where the asking tab finishes a sign-in confirmed on
    another device (on reload, or when static/js/passwordless.js sees it by polling)."""
    _require_enabled()
    sign_in = email_sign_in_current(request)
    if sign_in is None:
        return redirect("passwordless:start")
    if sign_in.used_at is not None and request.user.is_authenticated:
        # Finished in another tab of this browser (the link opened there).
        return redirect(sign_in.next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    status, retry_after = 200, 0
    if request.method == "POST":
        form = CodeForm(request.POST)
        if form.is_valid():
            result = email_sign_in_verify_code(request=request, code=form.cleaned_data["code"])
            if result.redirect_url:
                return redirect(result.redirect_url)
            if result.outcome is Outcome.MISSING:
                return redirect("passwordless:start")
            form.add_error("code", _result_message(result))
            status = 429 if result.outcome is Outcome.THROTTLED else 400
            retry_after = result.retry_after
    else:
        if email_sign_in_state(sign_in) == "confirmed":
            result = email_sign_in_finish_confirmed(request=request)
            if result.redirect_url:
                return redirect(result.redirect_url)
        form = CodeForm()
    sign_in.refresh_from_db()
    state = email_sign_in_state(sign_in)
    context = {
        "form": form,
        "sign_in": sign_in,
        "state": state,
        "exhausted": sign_in.failed_attempts >= app_settings.MAX_ATTEMPTS,
        "resend_wait": resend_wait_seconds(sign_in.email),
        "poll_seconds": POLL_SECONDS,
    }
    return _render(
        request, "passwordless/code.html", context, status=status, retry_after=retry_after
    )


@never_cache
@require_POST
def resend(request: HttpRequest) -> HttpResponse:
    _require_enabled()
    try:
        sign_in = email_sign_in_resend(request=request)
    except EmailSignInUnavailable:
        messages.error(request, _("That code can no longer be used. Ask for a new one."))
        return redirect("passwordless:start")
    except EmailSignInThrottled as error:
        messages.error(request, wait_message(error.retry_after, cooldown=error.cooldown))
    else:
        messages.success(request, _("We sent a new code to %(email)s.") % {"email": sign_in.email})
    return redirect("passwordless:code")


@never_cache
@require_POST
def restart(request: HttpRequest) -> HttpResponse:
    """Use another address: forget this browser's email sign-in and ask again."""
    _require_enabled()
    sign_in = email_sign_in_current(request)
    next_url = sign_in.next_url if sign_in else ""
    email_sign_in_forget(request=request)
    return redirect(_with_next(reverse("passwordless:start"), next_url))


@never_cache
@require_GET
def status(request: HttpRequest) -> JsonResponse:
    """The asking tab's poll: has the sign-in been confirmed on another device?"""
    _require_enabled()
    return JsonResponse({"state": email_sign_in_poll_state(request)})


@never_cache
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link. It signs in the browser that asked for it; anywhere else it asks
    for the number shown in that browser, which then finishes."""
    _require_enabled()
    form = NumberForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            result = email_sign_in_open_link(request=request, token=token)
        else:
            result = email_sign_in_confirm_elsewhere(
                request=request, token=token, number=form.cleaned_data["number"]
            )
            if result.outcome is Outcome.WRONG:
                form.add_error("number", _result_message(result))
    else:
        result = email_sign_in_open_link(request=request, token=token)
    if result.redirect_url:
        return redirect(result.redirect_url)
    context: dict[str, Any] = {"result": result, "sign_in": result.sign_in, "form": form}
    if result.outcome in (Outcome.OTHER_BROWSER, Outcome.WRONG):
        status = 400 if result.outcome is Outcome.WRONG else 200
        return render(request, "passwordless/other_device.html", context, status=status)
    if result.outcome is Outcome.CONFIRMED:
        return render(request, "passwordless/confirmed.html", context)
    if result.outcome is Outcome.THROTTLED:
        context["message"] = wait_message(result.retry_after)
        return _render(
            request,
            "passwordless/link_invalid.html",
            context,
            status=429,
            retry_after=result.retry_after,
        )
    context["message"] = _result_message(result)
    return render(request, "passwordless/link_invalid.html", context, status=410)


def _result_message(result: Result) -> str:
    if result.outcome is Outcome.WRONG:
        return ngettext(
            "That is not right. You can try %(count)d more time.",
            "That is not right. You can try %(count)d more times.",
            result.attempts_left,
        ) % {"count": result.attempts_left}
    if result.outcome is Outcome.THROTTLED:
        return wait_message(result.retry_after)
    if result.outcome is Outcome.INVALID:
        return _("This sign-in link is not valid. Ask for a new one.")
    return _("That code can no longer be used. Ask for a new one.")
