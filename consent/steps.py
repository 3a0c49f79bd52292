"""Interaction step: consent before the code is issued.

Two things are asked on one page when needed (consent/views.py ``ask``):

- the **OAuth grant** of a third-party client: the scopes and individually requested claims
  it asks for are covered by a recorded grant (first-party clients, ``skip_authorization``,
  need none; ``prompt=consent`` asks again);
- the **purposes** the client needs or offers (consent/selectors.py ``purposes_to_ask``):
  required purposes not yet accepted, or accepted for a version older than a later material
  change, must be accepted; optional purposes not yet decided are offered, unticked.

With prompt=none the request ends with ``consent_required`` when the grant or a required
purpose is missing (OIDC Core 3.1.2.6); undecided optional purposes never block it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from ciam.interaction import InteractionStep, PendingAuthorization

from .models import Consent
from .selectors import PurposesToAsk, purposes_to_ask

STEP_NAME = "consent"


@dataclass(frozen=True)
class ConsentNeeds:
    """What the consent page has to ask for this request."""

    grant: bool  # the OAuth grant (scopes, claims) of a third-party client
    purposes: PurposesToAsk

    @property
    def blocking(self) -> bool:
        """Needed before any code, also for prompt=none."""
        return self.grant or bool(self.purposes.required)

    @property
    def anything(self) -> bool:
        return self.blocking or bool(self.purposes.optional)


def consent_needs(request: HttpRequest, pending: PendingAuthorization) -> ConsentNeeds | None:
    """What is missing for ``pending``; None when the client no longer exists or nobody is
    signed in (the sign-in step comes first)."""
    application = pending.client
    user = request.user
    if application is None or not user.is_authenticated:
        return None
    grant = False
    if not application.skip_authorization:
        if "consent" in pending.prompt:
            grant = True
        else:
            consent = Consent.objects.filter(user=user, application=application).first()
            grant = consent is None or not consent.covers(
                pending.scopes,
                pending.individually_requested_claims,
                max_age_days=getattr(application, "consent_max_age_days", None),
            )
    return ConsentNeeds(grant=grant, purposes=purposes_to_ask(user=user, application=application))


class ConsentStep(InteractionStep):
    """The client has the grant and the purposes it needs (module docstring)."""

    name = STEP_NAME
    prompt_none_error = "consent_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        if STEP_NAME in pending.done:
            return True
        needs = consent_needs(request, pending)
        if needs is None:
            return False
        if "none" in pending.prompt:
            return not needs.blocking
        return not needs.anything

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("consent:ask", args=[pending.id])
