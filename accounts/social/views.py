"""The social-link page (a social sign-in matched an existing account by email) and the
page where a cancelled or failed social sign-in within an authorization request ends."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.passwordless.app_settings import app_settings as email_sign_in_settings
from accounts.passwordless.selectors import safe_next_url
from ciam.interaction import PendingAuthorization
from ciam.interaction.pages import cancel_to_client, step_page

from .selectors import social_link_owner_signed_in, social_link_pending
from .services import social_link_cancel, social_link_complete


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@never_cache
@require_http_methods(["GET", "POST"])
def social_link(request: HttpRequest) -> HttpResponse:
    """A social sign-in matched an existing account by email: its owner signs in, then
    links the provider here."""
    pending = social_link_pending(request)
    if pending is None:
        messages.error(request, _("That sign-in has expired. Please start again."))
        return redirect("account_login")
    next_url = safe_next_url(pending.sociallogin.state.get("next"))
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            social_link_cancel(request=request)
            return redirect(_with_next(reverse("account_login"), next_url))
        if social_link_owner_signed_in(request, pending):
            return redirect(social_link_complete(request=request))
    here = reverse("social:link")
    email_sign_in = ""
    if email_sign_in_settings.ENABLED:
        email_sign_in = (
            reverse("passwordless:start") + "?" + urlencode({"next": here, "email": pending.email})
        )
    context = {
        "pending": pending,
        "provider_name": pending.provider_name,
        "owner_signed_in": social_link_owner_signed_in(request, pending),
        "login_url": _with_next(reverse("account_login"), here),
        "email_sign_in_url": email_sign_in,
    }
    return render(request, "social/link.html", context)


@step_page(sign_in_required=False)
def social_sign_in_ended(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """A social sign-in for ``pending`` was cancelled upstream or failed (the adapter's
    ``on_authentication_error`` sends the browser here). Two ways on: try again, with the
    sign-in page resuming the request, or go back to the client, which receives
    ``access_denied`` (RFC 6749 4.1.2.1)."""
    if request.method == "POST":
        return cancel_to_client(request, pending)
    cancelled = request.GET.get("reason") == "cancelled"
    template = (
        "socialaccount/login_cancelled.html"
        if cancelled
        else ("socialaccount/authentication_error.html")
    )
    context = {
        "pending": pending,
        "client_name": pending.client_name,
        "try_again_url": _with_next(reverse("account_login"), pending.resume_url),
    }
    return render(request, template, context)
