"""RP-Initiated Logout 1.0: the end-session endpoint and its confirmation page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sessions_ctx.services.logout import session_logout

from ..interaction.pages import ClientRedirect, error_page
from ..services.logout import LogoutRejected, logout_request_validate
from .authorize import request_params

SESSION_KEY_LOGOUT = "ciam.logout"


@csrf_exempt  # relying parties may POST the logout request (RP-Initiated Logout 2)
@never_cache
@require_http_methods(["GET", "POST"])
def end_session(request: HttpRequest) -> HttpResponse:
    params = request_params(request)
    if params is None:
        return error_page(request, "invalid_request", _("Send the sign-out request as a form."))
    try:
        decision = logout_request_validate(params=dict(params), user=request.user)
    except LogoutRejected as rejected:
        return error_page(request, "invalid_request", rejected.description)
    if decision.needs_confirmation:
        request.session[SESSION_KEY_LOGOUT] = {"redirect_url": decision.redirect_url}
        return render(
            request,
            "ciam/logout_confirm.html",
            {"client_name": decision.client_name},
        )
    session_logout(request=request)
    if decision.redirect_url:
        return ClientRedirect(decision.redirect_url)
    return HttpResponseRedirect(reverse("oidc:logged-out"))


@never_cache
@require_POST
def end_session_confirm(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(SESSION_KEY_LOGOUT, None) or {}
    if request.POST.get("confirm") != "yes":
        return HttpResponseRedirect(reverse("home"))
    session_logout(request=request)
    if pending.get("redirect_url"):
        return ClientRedirect(pending["redirect_url"])
    return HttpResponseRedirect(reverse("oidc:logged-out"))


@require_GET
def logged_out(request: HttpRequest) -> HttpResponse:
    return render(request, "ciam/logged_out.html", {})
