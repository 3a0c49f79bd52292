"""RP-Initiated Logout 1.0: the end-session endpoint and its confirmation page; the page
after sign-out, which loads the clients' front-channel logout URIs (Front-Channel Logout
1.0) when the ended session had any."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sessions_ctx.selectors import session_auth_state
from sessions_ctx.services.logout import session_logout

from ..interaction.pages import ClientRedirect, error_page
from ..middleware import CONTENT_SECURITY_POLICY
from ..services.frontchannel_logout import (
    FrontchannelLogoutFrame,
    frame_src_policy,
    frontchannel_logout_frames,
    frontchannel_logout_pending_pop,
)
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
    return _sign_out(request, decision.redirect_url)


@never_cache
@require_POST
def end_session_confirm(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(SESSION_KEY_LOGOUT, None) or {}
    if request.POST.get("confirm") != "yes":
        return HttpResponseRedirect(reverse("home"))
    return _sign_out(request, pending.get("redirect_url") or "")


@require_GET
def logged_out(request: HttpRequest) -> HttpResponse:
    # After /accounts/logout/: the frames a session_ended receiver kept for this page.
    frames = frontchannel_logout_pending_pop(request=request)
    if frames:
        return _frontchannel_logout_page(request, frames, reverse("oidc:logged-out"))
    return render(request, "ciam/logged_out.html", {})


def _sign_out(request: HttpRequest, redirect_url: str) -> HttpResponse:
    """Sign the browser out, then go to ``redirect_url`` (or the logged-out page), through
    the front-channel logout page when clients of the session asked for one."""
    # Front-Channel Logout 1.0 3: the clients are those of this session; its sid is gone
    # once signed out, so they are found first.
    state = session_auth_state(request)
    frames = frontchannel_logout_frames(sid=state.sid, user_id=state.user_id) if state else []
    session_logout(request=request)
    frontchannel_logout_pending_pop(request=request)  # shown here, not on a later page
    if frames:
        return _frontchannel_logout_page(
            request, frames, redirect_url or reverse("oidc:logged-out")
        )
    if redirect_url:
        return ClientRedirect(redirect_url)
    return HttpResponseRedirect(reverse("oidc:logged-out"))


def _frontchannel_logout_page(
    request: HttpRequest, frames: list[FrontchannelLogoutFrame], continue_url: str
) -> HttpResponse:
    """One hidden frame per client (Front-Channel Logout 1.0 3), then on to ``continue_url``
    (static/js/frontchannel-logout.js; a Continue link without JavaScript). Only this
    response lets the page frame those origins."""
    response = render(
        request,
        "ciam/frontchannel_logout.html",
        {"frames": frames, "continue_url": continue_url},
    )
    response["Content-Security-Policy"] = (
        f"{CONTENT_SECURITY_POLICY}; {frame_src_policy(frames=frames)}"
    )
    add_never_cache_headers(response)
    return response
