"""The consent screen for third-party clients."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from ciam.interaction import pending_discard, pending_load, pending_save
from ciam.services.authorization import authorization_error_url
from ciam.views import ClientRedirect, error_page

from .services.grants import consent_grant
from .steps import STEP_NAME, requested_claims


@never_cache
@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest, pending_id: str) -> HttpResponse:
    pending = pending_load(request, pending_id)
    if pending is None:
        return error_page(
            request,
            "request_expired",
            _("This sign-in request has expired. Go back to the application and try again."),
        )
    if not request.user.is_authenticated:
        return redirect_to_login(pending.resume_url)
    application = get_application_model().objects.filter(client_id=pending.client_id).first()
    if application is None:
        return error_page(request, "invalid_client", _("This application no longer exists."))
    claims = requested_claims(pending)

    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision == "allow":
            consent_grant(
                user=request.user, application=application, scopes=pending.scopes, claims=claims
            )
            pending.done.append(STEP_NAME)
            pending_save(request, pending)
            return HttpResponseRedirect(pending.resume_url)
        if decision == "deny":
            pending_discard(request, pending.id)
            return ClientRedirect(authorization_error_url(pending, "access_denied"))

    all_scopes = oauth2_settings.SCOPES
    return render(
        request,
        "consent/consent.html",
        {
            "application": application,
            "client_name": pending.client_name,
            "scopes": [(scope, all_scopes.get(scope, scope)) for scope in pending.scopes],
            "claims": claims,
            "pending_id": pending.id,
        },
    )
