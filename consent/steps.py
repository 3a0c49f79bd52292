"""Interaction step: a third-party client has the user's consent for what it asks."""

from __future__ import annotations

import json

from django.http import HttpRequest
from django.urls import reverse
from oauth2_provider.models import get_application_model

from ciam.claims import STANDARD_CLAIMS, requested_claim_names
from ciam.interaction import InteractionStep, PendingAuthorization

from .models import Consent

STEP_NAME = "consent"


def requested_claims(pending: PendingAuthorization) -> list[str]:
    """Standard claims asked for individually through the ``claims`` parameter."""
    try:
        claims_request = json.loads(pending.params.get("claims", "") or "{}")
    except ValueError:
        return []
    names = requested_claim_names(claims_request, "userinfo") + requested_claim_names(
        claims_request, "id_token"
    )
    return sorted({name for name in names if name in STANDARD_CLAIMS})


class ConsentStep(InteractionStep):
    """First-party clients (skip_authorization) need no consent; others need it recorded."""

    name = STEP_NAME
    prompt_none_error = "consent_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        if STEP_NAME in pending.done:
            return True
        application = get_application_model().objects.filter(client_id=pending.client_id).first()
        if application is None:
            return False
        if application.skip_authorization:
            return True
        if "consent" in pending.prompt:
            return False
        consent = Consent.objects.filter(user=request.user, application=application).first()
        return consent is not None and consent.covers(pending.scopes, requested_claims(pending))

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("consent:ask", args=[pending.id])
