"""The consent screen for third-party clients."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from oauth2_provider.settings import oauth2_settings

from ciam.interaction import PendingAuthorization
from ciam.interaction.pages import cancel_to_client, error_page, step_done, step_page

from .services.grants import consent_grant
from .steps import STEP_NAME


@step_page
def ask(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    """Allow records the consent and continues the request; deny sends access_denied to the
    client (RFC 6749 4.1.2.1)."""
    application = pending.client
    if application is None:
        return error_page(request, "invalid_client", _("This application no longer exists."))
    claims = pending.individually_requested_claims
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision == "allow":
            consent_grant(
                user=request.user, application=application, scopes=pending.scopes, claims=claims
            )
            # Done for this interaction even with prompt=consent, which asks every time.
            return step_done(request, pending, STEP_NAME)
        if decision == "deny":
            return cancel_to_client(request, pending)

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
