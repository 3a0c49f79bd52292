"""Interaction steps: profile questions in the journey.

- ``ProfileQuestionStep`` (right after signing in) and ``ProfileQuestionBeforeReturnStep``
  (before returning to the client): at most the rules' number of optional questions per
  interaction, never when another step already interrupted this sign-in (a step-up, the
  consent page, a passkey offer...), never with prompt=none; which field, and whether to ask
  now at all, is decided once per interaction (profiling/services/questions.py). Each can
  be skipped with one click.
- ``ProfileRequiredStep``: the fields the client requires are asked before its code is
  issued, and cannot be skipped; with prompt=none the request ends with
  ``interaction_required`` (OIDC Core 3.1.2.6).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from ciam.interaction import InteractionStep, PendingAuthorization
from sessions_ctx.selectors import session_auth_state

from .models import Position
from .rules import required_missing
from .services.questions import note_get, note_put, question_decide

# Pages that belong to signing in itself, not interruptions of it.
SIGN_IN_STEPS = {"sign_in", "second_factor"}
QUESTION_STEPS = {"profile_question", "profile_question_return"}


class ProfileQuestionStep(InteractionStep):
    """An optional question right after signing in (module docstring)."""

    name = "profile_question"
    position = Position.AFTER_SIGN_IN
    # Never reported: prompt=none always satisfies this step.
    prompt_none_error = "interaction_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        if "none" in pending.prompt or not request.user.is_authenticated:
            return True
        note = note_get(pending, self.position)
        if note is None:
            if not self._may_ask(request, pending):
                return True
            note = question_decide(request=request, pending=pending, position=self.position)
            note_put(pending, self.position, note)
        return note.closed or not note.fields

    def _may_ask(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        if pending.interrupted_by(ignore=SIGN_IN_STEPS | QUESTION_STEPS):
            return False
        if self.position == Position.AFTER_SIGN_IN:
            state = session_auth_state(request)
            # Right after signing in: only in the interaction where the sign-in happened.
            return state is not None and state.auth_time >= int(pending.created_at)
        return True

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("profiling:question", args=[pending.id])


class ProfileQuestionBeforeReturnStep(ProfileQuestionStep):
    """An optional question before returning to the client (module docstring)."""

    name = "profile_question_return"
    position = Position.BEFORE_RETURN

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("profiling:question-return", args=[pending.id])


class ProfileRequiredStep(InteractionStep):
    """Every field the client requires has a value (module docstring)."""

    name = "profile_required"
    prompt_none_error = "interaction_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        if not request.user.is_authenticated:
            return False
        return not required_missing(user=request.user, application=pending.client)

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("profiling:required", args=[pending.id])
