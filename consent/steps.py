"""Interaction step: a third-party client has the user's consent for what it asks."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from ciam.interaction import InteractionStep, PendingAuthorization

from .models import Consent

STEP_NAME = "consent"


def requested_claims(pending: PendingAuthorization) -> list[str]:
    """Standard claims asked for individually through the ``claims`` parameter."""
    return pending.individually_requested_claims


class ConsentStep(InteractionStep):
    """First-party clients (skip_authorization) need no consent; others need it recorded."""

    name = STEP_NAME
    prompt_none_error = "consent_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        if STEP_NAME in pending.done:
            return True
        application = pending.client
        if application is None:
            return False
        if application.skip_authorization:
            return True
        if "consent" in pending.prompt:
            return False
        user = request.user
        if not user.is_authenticated:  # the sign-in step comes first
            return False
        consent = Consent.objects.filter(user=user, application=application).first()
        return consent is not None and consent.covers(
            pending.scopes, pending.individually_requested_claims
        )

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("consent:ask", args=[pending.id])
