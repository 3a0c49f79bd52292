"""The interaction pipeline between an authorization request and the code it earns.

- ``pending``: the validated request, kept in the session and parsed once;
- ``steps``: the step contract and the ordered list ``settings.CIAM_INTERACTION_STEPS``;
- ``pages``: the toolkit of step pages (load or expire, require sign-in, done, cancel);
- ``responses``: error responses at the client's redirect_uri.

A new step is one module with an ``InteractionStep`` subclass and its page, and one line in
the setting. Steps and their pages import from this package only.
"""

from __future__ import annotations

from .pending import (
    MAX_PENDING_PER_SESSION,
    PENDING_TTL_SECONDS,
    SESSION_KEY_PENDING,
    PendingAuthorization,
    pending_discard,
    pending_from_next_url,
    pending_load,
    pending_new,
    pending_save,
)
from .steps import InteractionStep, interaction_steps, next_unsatisfied_step

__all__ = [
    "MAX_PENDING_PER_SESSION",
    "PENDING_TTL_SECONDS",
    "SESSION_KEY_PENDING",
    "InteractionStep",
    "PendingAuthorization",
    "interaction_steps",
    "next_unsatisfied_step",
    "pending_discard",
    "pending_from_next_url",
    "pending_load",
    "pending_new",
    "pending_save",
]
