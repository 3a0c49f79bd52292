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

from django.http import HttpRequest
from django.urls import reverse

from ciam.interaction import InteractionStep, PendingAuthorization

from .selectors import Outcome, second_factor_decision

STEP_NAME = "second_factor"


class SecondFactorStep(InteractionStep):
    """The session has the second factor the user or the client requires (module docstring)."""

    name = STEP_NAME
    prompt_none_error = "login_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        return second_factor_decision(request=request, pending=pending).outcome is (
            Outcome.SATISFIED
        )

    def prompt_none_error_for(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        """login_required for a missing factor, unmet_authentication_requirements for a level
        the user's methods cannot reach (asked only after is_satisfied said no)."""
        return second_factor_decision(request=request, pending=pending).prompt_none_error

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("mfa:verify", args=[pending.id])
