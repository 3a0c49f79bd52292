"""Pages of the data subject rights. Thin: validate, call a service, respond."""

from __future__ import annotations

import json
import math
import time
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from sessions_ctx.selectors import session_auth_state
from sessions_ctx.services.reauthentication import (
    ReauthenticationThrottled,
    reauthentication_retry_after,
)
from sessions_ctx.throttle import too_many_requests

from ..mfa.decorators import second_factor_required
from ..mfa.selectors import failure_limits, user_has_totp
from ..mfa.services import CodeCheck, reauthentication_verify
from .app_settings import app_settings
from .forms import ErasureConfirmForm
from .services import erasure_request, user_data_export


def _recently_authenticated(request: HttpRequest) -> bool:
    """OIDC Core 3.1.2.1 max_age, applied here: the session's sign-in is at most
    CIAM_PRIVACY_RECENT_AUTHENTICATION_SECONDS old."""
    state = session_auth_state(request)
    return state is not None and (
        time.time() - state.auth_time <= app_settings.RECENT_AUTHENTICATION_SECONDS
    )


@never_cache
@login_required
@second_factor_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """Everything held about the signed-in user, readable, with the download and the way
    to delete the account."""
    return render(
        request,
        "privacy/overview.html",
        {"export": user_data_export(user=request.user, request=request)},
    )


@never_cache
@login_required
@second_factor_required
@require_GET
def export_download(request: HttpRequest) -> HttpResponse:
    """The same, as a JSON file to keep or take elsewhere (GDPR Art. 20: a structured,
    commonly used, machine-readable format)."""
    data = user_data_export(user=request.user, request=request)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"account-data-{timezone.localdate():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _rate_limited(request: HttpRequest, retry_after: int) -> HttpResponse:
    """HTTP 429 (RFC 6585 4) with Retry-After, once too many proofs were wrong."""
    response = render(
        request,
        "privacy/rate_limited.html",
        {"minutes": max(1, math.ceil(retry_after / 60))},
        status=429,
    )
    return too_many_requests(response, retry_after=retry_after)


@never_cache
@login_required
@second_factor_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest) -> HttpResponse:
    """Delete the account: after the password or an authenticator code, or (an account
    with neither) a sign-in at most a few minutes old; then signed out everywhere."""
    user = request.user
    has_password = user.has_usable_password()
    has_totp = user_has_totp(user=user)
    needs_proof = has_password or has_totp
    form = (
        ErasureConfirmForm(
            request.POST if request.method == "POST" else None,
            has_password=has_password,
            has_totp=has_totp,
        )
        if needs_proof
        else None
    )
    recent = _recently_authenticated(request)
    status = 200
    if request.method == "POST":
        confirmed = False
        if form is not None:
            retry_after = reauthentication_retry_after(
                request=request, also=failure_limits(request)
            )
            if retry_after:
                return _rate_limited(request, retry_after)
            if form.is_valid():
                try:
                    result = reauthentication_verify(
                        request=request,
                        password=form.cleaned_data.get("password", ""),
                        code=form.cleaned_data.get("code", ""),
                    )
                except ReauthenticationThrottled as error:
                    return _rate_limited(request, error.retry_after)
                confirmed = result.ok
                if not confirmed:
                    form.add_error(
                        None,
                        _("That password or code is not right.")
                        if result is CodeCheck.REJECTED
                        else _("That code cannot be used. Try the next one."),
                    )
            status = 400
        elif recent:
            confirmed = True
        else:
            status = 403
        if confirmed:
            erasure = erasure_request(request=request, user=user)
            messages.success(
                request,
                _(
                    "Your account will be deleted on %(date)s. Until then, signing in "
                    "again cancels the deletion."
                )
                % {"date": formats.date_format(timezone.localtime(erasure.due_at), "DATE_FORMAT")},
            )
            return HttpResponseRedirect(reverse("privacy:deletion-scheduled"), status=303)
    sign_in_again_url = (
        f"{reverse('account_login')}?{urlencode({'next': reverse('privacy:delete')})}"
    )
    return render(
        request,
        "privacy/delete.html",
        {
            "form": form,
            "recently_authenticated": recent,
            "sign_in_again_url": sign_in_again_url,
            "grace_days": app_settings.ERASURE_GRACE_DAYS,
        },
        status=status,
    )


@never_cache
@require_GET
def deletion_scheduled(request: HttpRequest) -> HttpResponse:
    """Where the browser lands, signed out, after asking for the deletion."""
    return render(
        request, "privacy/deletion_scheduled.html", {"grace_days": app_settings.ERASURE_GRACE_DAYS}
    )
