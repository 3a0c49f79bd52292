"""The "confirm it's you" page: inside an authorization request, and for account pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ciam.interaction import PendingAuthorization
from ciam.interaction.pages import cancel_to_client, step_continue, step_page
from ciam.interaction.pending import pending_save
from sessions_ctx.middleware import session_ended_message
from sessions_ctx.models import EndReason
from sessions_ctx.risk.findings import finding_reason
from sessions_ctx.services.risk import (
    RiskState,
    risk_enforce,
    risk_for_client,
    risk_step_up_owed,
    risk_step_up_pending,
)
from sessions_ctx.services.sessions import session_end
from sessions_ctx.throttle import too_many_requests

from ..mfa.forms import SecondFactorForm
from ..mfa.selectors import failed_attempts_retry_after
from ..mfa.services import second_factor_verify
from ..passkeys.views import safe_next_url
from .forms import EmailCodeForm
from .selectors import step_up_method
from .services import step_up_email_send, step_up_email_sent, step_up_email_verify

WRONG_CODE = {
    "wrong": gettext_lazy("That code is not right. Check the email and try again."),
    "expired": gettext_lazy("That code has expired. We sent you a new one."),
    "too_many": gettext_lazy("Too many wrong codes. We sent you a new one."),
    "blocked": gettext_lazy(
        "Too many codes for this account. Try again in an hour, or sign out and sign in "
        "another way."
    ),
}


def _page(
    request: HttpRequest,
    *,
    state: RiskState | None,
    next_url: str,
    action_url: str,
    pending: PendingAuthorization | None,
) -> HttpResponse:
    method = step_up_method(user=request.user)
    status = 200
    code_form: Any = None
    notice = ""
    if method == "totp":
        code_form = SecondFactorForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and request.POST.get("action") == "code":
            wait = failed_attempts_retry_after(request=request)
            if wait:
                return too_many_requests(
                    render(request, "accounts/mfa/rate_limited.html", {"seconds": wait}),
                    retry_after=wait,
                )
            if code_form.is_valid():
                result, _state = second_factor_verify(
                    request=request, code=code_form.cleaned_data["code"]
                )
                if result.ok:
                    return HttpResponseRedirect(next_url)
            code_form.add_error("code", _("That code is not right. Try again."))
            status = 400
    elif method == "email":
        code_form = EmailCodeForm(request.POST if request.method == "POST" else None)
        action = request.POST.get("action") if request.method == "POST" else ""
        if action == "code" and code_form.is_valid():
            outcome = step_up_email_verify(request=request, code=code_form.cleaned_data["code"])
            if outcome == "ok":
                return HttpResponseRedirect(next_url)
            if outcome != "wrong" and step_up_email_send(request=request):
                outcome = "blocked"
            code_form.add_error("code", WRONG_CODE[outcome])
            status = 400
        elif action == "resend":
            wait = step_up_email_send(request=request)
            notice = (
                _("Please wait %(seconds)s seconds before asking for another code.")
                % {"seconds": wait}
                if wait
                else _("We sent you a new code.")
            )
        elif not step_up_email_sent(request):
            step_up_email_send(request=request)
    findings = state.findings if state is not None else ()
    reasons = [finding_reason(finding.code, finding.params) for finding in findings]
    return render(
        request,
        "accounts/stepup/confirm.html",
        {
            "method": method,
            "reasons": reasons,
            "code_form": code_form,
            "notice": notice,
            "next_url": next_url,
            "action_url": action_url,
            "pending": pending,
            "client_name": pending.client_name if pending else "",
            "email": getattr(request.user, "email", ""),
        },
        status=status,
    )


@step_page
def verify(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """The step-up of steps.RiskStep: "Cancel" sends ``access_denied`` to the client; a
    decision that ends the session ends it here, and the request goes back to sign-in."""
    state = risk_for_client(request=request, client_id=pending.client_id)
    if state is not None and state.ends_session:
        action = risk_enforce(request=request)
        if action:
            session_ended_message(request, action)
        # The session is gone with the request it held: the request goes on, to sign-in.
        pending_save(request, pending)
        return step_continue(pending)
    if request.method == "POST" and request.POST.get("action") == "cancel":
        return cancel_to_client(request, pending, "The user did not confirm the sign-in.")
    pending_state = risk_step_up_owed(request=request, state=state)
    if pending_state is None:
        return step_continue(pending)
    return _page(
        request,
        state=pending_state,
        next_url=pending.resume_url,
        action_url=reverse("stepup:verify", args=[pending.id]),
        pending=pending,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def session_page(request: HttpRequest) -> HttpResponse:
    """The step-up for account pages (the sessions_ctx middleware sends sessions owing one
    here). "Cancel" signs out."""
    next_url = safe_next_url(request, request.GET.get("next") or request.POST.get("next") or "")
    if request.method == "POST" and request.POST.get("action") == "cancel":
        session_end(request=request, reason=EndReason.SIGNED_OUT)
        return HttpResponseRedirect(reverse("account_login"))
    state = risk_step_up_pending(request=request)
    if state is None:
        return HttpResponseRedirect(next_url)
    return _page(
        request,
        state=state,
        next_url=next_url,
        action_url=reverse("stepup:session") + "?" + urlencode({"next": next_url}),
        pending=None,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Confirm it's you before a sensitive change, for a customer without a password
    (signed up by email code, social login or a passkey): allauth's re-authentication page
    asks for a password, so it sends them here. The same methods as a step-up (a passkey,
    the authenticator app, else a code emailed to the account's address); success moves
    the session's authentication time to now (a re-authentication, see
    sessions_ctx.services.reauthentication) and goes on to ``next``. "Cancel" signs out."""
    next_url = safe_next_url(request, request.GET.get("next") or request.POST.get("next") or "")
    if request.method == "POST" and request.POST.get("action") == "cancel":
        session_end(request=request, reason=EndReason.SIGNED_OUT)
        return HttpResponseRedirect(reverse("account_login"))
    return _page(
        request,
        state=None,
        next_url=next_url,
        action_url=reverse("stepup:reauthenticate") + "?" + urlencode({"next": next_url}),
        pending=None,
    )
