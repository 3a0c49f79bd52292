"""Interaction step: a step-up the risk policy asks for is met (package docstring)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from ciam.interaction import InteractionStep, PendingAuthorization
from sessions_ctx.services.risk import risk_for_client, risk_step_up_owed

STEP_NAME = "risk"


class RiskStep(InteractionStep):
    """Satisfied while the session's latest risk decision, under the client's own policy,
    asks for nothing or its step-up was met. With prompt=none: login_required (OIDC Core
    3.1.2.6: the customer must interact)."""

    name = STEP_NAME
    prompt_none_error = "login_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        state = risk_for_client(request=request, client_id=pending.client_id)
        if state is not None and state.ends_session:
            return False
        return risk_step_up_owed(request=request, state=state) is None

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("stepup:verify", args=[pending.id])
