"""Interaction step: the second factor, and step-up to the level a client demands.

``SecondFactorStep`` runs after sign-in (settings.CIAM_INTERACTION_STEPS). The rules are
those of ``selectors.second_factor_decision``:

- a user with a confirmed authenticator app proves it once per session (acr "2", amr
  "pwd", "otp", "mfa"), unless this browser is remembered;
- a client demanding more than the session has (acr_values, an essential ``acr`` claim,
  its ``min_acr``) gets a step-up: the code is asked for when "2" suffices and the user has
  an authenticator app, even on a remembered browser;
- a demand the user's methods cannot reach shows a page that offers what would reach it
  (setting up an authenticator app, signing in again with the password or a passkey) or
  going back to the client, which then receives ``access_denied``.

The ID token's acr and amr are those of the session when the code is issued
(ciam.models.AuthorizationContext), so after the code they are "2" and pwd, otp, mfa.

With prompt=none no page may be shown (OIDC Core 3.1.2.6): a missing factor ends the request
with ``login_required``, an unreachable level with ``unmet_authentication_requirements``
(OpenID Connect Core Unmet Authentication Requirements 1.0).
"""

from __future__ import annotations

from contextvars import ContextVar

from django.http import HttpRequest
from django.urls import reverse

from ciam.interaction import InteractionStep, PendingAuthorization

from .selectors import ERROR_LOGIN_REQUIRED, Outcome, second_factor_decision

STEP_NAME = "second_factor"

# The prompt=none error of the last decision taken in this context (thread or task).
# ciam.views reads ``step.prompt_none_error`` right after ``is_satisfied`` returned False for
# the same request, and the error depends on the request; steps are shared singletons, so the
# value cannot live on the instance.
_prompt_none_error: ContextVar[str] = ContextVar(
    "accounts_mfa_prompt_none_error", default=ERROR_LOGIN_REQUIRED
)


class SecondFactorStep(InteractionStep):
    """The session has the second factor the user or the client requires (module docstring)."""

    name = STEP_NAME

    @property  # type: ignore[override]
    def prompt_none_error(self) -> str:
        return _prompt_none_error.get()

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        decision = second_factor_decision(request=request, pending=pending)
        _prompt_none_error.set(decision.prompt_none_error)
        return decision.outcome is Outcome.SATISFIED

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("mfa:verify", args=[pending.id])
