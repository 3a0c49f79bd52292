"""The step contract and the ordered list of steps (``CIAM_INTERACTION_STEPS``).

For each step in order the provider asks ``is_satisfied(request, pending)``; the first that
answers no sends the browser to ``url(request, pending)``. With ``prompt=none`` an
unsatisfied step ends the request with ``prompt_none_error_for(request, pending)`` instead
(OIDC Core 3.1.2.6). Steps are shared, stateless instances: whatever a step needs to say
comes from the request and the pending authorization, never from hidden state.

Compare oidc-provider's interaction policy (a ``Check`` carries its error as data),
Keycloak's required actions and authentik's stages.
"""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpRequest
from django.utils.module_loading import import_string

from ..app_settings import app_settings
from .pending import PendingAuthorization


class InteractionStep:
    """One thing that must hold before a code is issued.

    Subclasses set ``name`` and ``prompt_none_error`` (the OIDC error for prompt=none) and
    implement ``is_satisfied`` and ``url``. A step whose prompt=none error depends on why it
    is unsatisfied overrides ``prompt_none_error_for``.
    """

    name = ""
    prompt_none_error = "interaction_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        raise NotImplementedError

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        raise NotImplementedError

    def prompt_none_error_for(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        """The error for prompt=none when this step is unsatisfied (may depend on why)."""
        return self.prompt_none_error


@lru_cache(maxsize=1)
def _steps(paths: tuple[str, ...]) -> tuple[InteractionStep, ...]:
    return tuple(import_string(path)() for path in paths)


def interaction_steps() -> tuple[InteractionStep, ...]:
    return _steps(app_settings.INTERACTION_STEPS)


def next_unsatisfied_step(
    request: HttpRequest, pending: PendingAuthorization
) -> InteractionStep | None:
    for step in interaction_steps():
        if not step.is_satisfied(request, pending):
            return step
    return None
