"""Asking profile questions during sign-in: deciding, showing, answering, skipping, and what
the learner is told about each outcome.

- ``question_decide``: for one position in the journey, which fields to ask now, if any —
  among the candidates the rules allow (profiling/rules.py), the learner decides
  (profiling/learner.py: Thompson sampling with a fatigue penalty, a share of random
  decisions logged with their propensity), or with ``CIAM_PROFILING_POLICY = "fixed"`` the
  first by rule priority. The decision is a small JSON note kept in the pending request.
- ``question_show``: the page was shown: one ``ProfileQuestion`` per field (the experiment
  log: context, bucket, randomised or not, propensity).
- ``question_answer`` / ``question_skip``: the outcome, written to the log and the learner's
  counts (``LearnerArm``); junk is asked again politely once, then counted.
- ``questions_settle``: questions left without answer or skip for
  ``CIAM_PROFILING_ABANDON_AFTER_MINUTES`` become abandoned sign-ins.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from sessions_ctx.models import BrowserSession
from sessions_ctx.selectors import session_auth_state
from sessions_ctx.services.sessions import current_session_id

from .. import learner
from ..app_settings import app_settings
from ..models import (
    AskRule,
    LearnerArm,
    LearnerDecision,
    Outcome,
    Position,
    ProfileQuestion,
    ValueSource,
    value_is_empty,
)
from ..rules import Candidate, last_question_at, question_candidates, required_missing
from ..schema import schema_current
from ..validation import FieldInvalid, FieldJunk
from .values import ProfileInvalid, profile_update

REQUIRED = "required"
NOTE_KEY = "profile"
OUTCOME_FIELD = {
    Outcome.ANSWERED: "answered",
    Outcome.SKIPPED: "skipped",
    Outcome.ABANDONED: "abandoned",
    Outcome.JUNK: "junk",
}

_rng = random.Random()  # noqa: S311 - a bandit's sampling, not a secret


# --- the context of a decision ----------------------------------------------------------


def _user_zone(user: Any) -> ZoneInfo:
    profile = getattr(user, "profile", None)
    name = str((profile.values or {}).get("zoneinfo") or "") if profile is not None else ""
    for candidate in (name, settings.TIME_ZONE, "UTC"):
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def question_context(
    *, request: Any, user: Any, position: str, client_id: str, now: datetime
) -> dict[str, Any]:
    """What is known when a question may be asked (the learner's context, and the log's):
    journey position, client, sign-in method, device type, hour and weekday in the user's
    time zone, days since sign-up and sign-ins so far."""
    state = session_auth_state(request)
    device_type = ""
    session_id = current_session_id(request)
    if session_id is not None:
        device_type = (
            BrowserSession.objects.filter(pk=session_id)
            .values_list("device_type", flat=True)
            .first()
            or ""
        )
    local = now.astimezone(_user_zone(user))
    return {
        "position": position,
        "client": client_id,
        "method": " ".join(state.amr) if state is not None else "",
        "device": device_type or "other",
        "hour": local.hour,
        "weekday": local.weekday(),
        "days_since_signup": max(0, (now - user.date_joined).days) if user.date_joined else 0,
        "sign_ins": BrowserSession.objects.filter(user=user).count(),
    }


# --- deciding ------------------------------------------------------------------------------


@dataclass
class QuestionNote:
    """The decision for one position, as kept in ``pending.notes["profile"][position]``."""

    fields: list[str] = field(default_factory=list)
    rule: int | None = None
    explored: bool = False
    propensity: float = 1.0
    bucket: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    questions: list[int] = field(default_factory=list)  # ProfileQuestion ids once shown
    decision: int | None = None  # the LearnerDecision of a randomised choice
    junk: int = 0  # junk answers given on this page so far
    closed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuestionNote:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def profile_notes(pending: Any) -> dict[str, Any]:
    notes: dict[str, Any] = pending.notes.setdefault(NOTE_KEY, {})
    return notes


def note_get(pending: Any, position: str) -> QuestionNote | None:
    data = pending.notes.get(NOTE_KEY, {}).get(position)
    return QuestionNote.from_dict(data) if isinstance(data, dict) else None


def note_put(pending: Any, position: str, note: QuestionNote) -> None:
    profile_notes(pending)[position] = note.as_dict()


def _asked_in(pending: Any) -> tuple[set[str], int]:
    """Fields asked in this interaction and how many optional question pages it showed."""
    asked: set[str] = set()
    pages = 0
    for position, data in pending.notes.get(NOTE_KEY, {}).items():
        if isinstance(data, dict) and data.get("fields"):
            asked |= set(data["fields"])
            if position != REQUIRED:
                pages += 1
    return asked, pages


def _learner_settings() -> learner.LearnerSettings:
    return learner.LearnerSettings(
        explore_rate=app_settings.EXPLORE_RATE, abandon_weight=app_settings.ABANDON_WEIGHT
    )


def _counts(arm: LearnerArm | None) -> learner.ArmCounts:
    return arm.counts() if arm is not None else learner.ArmCounts()


def _learner_candidates(
    candidates: list[Candidate], bucket: str, now: datetime
) -> list[learner.Candidate]:
    arms = {
        (arm.field_id, arm.bucket): arm
        for arm in LearnerArm.objects.filter(
            field_id__in=[c.field.pk for c in candidates],
            bucket__in=[bucket, learner.OVERALL_BUCKET],
        )
    }
    result = []
    for c in candidates:
        last_skip = c.history.last_skip_at
        result.append(
            learner.Candidate(
                field_key=c.field.key,
                bucket=_counts(arms.get((c.field.pk, bucket))),
                overall=_counts(arms.get((c.field.pk, learner.OVERALL_BUCKET))),
                skips=c.history.skips,
                days_since_skip=(now - last_skip).total_seconds() / 86400 if last_skip else None,
            )
        )
    return result


def question_decide(*, request: Any, pending: Any, position: str) -> QuestionNote:
    """Which fields to ask at ``position`` in this interaction (an empty note: none).

    Nothing is asked to a user asked less than ``CIAM_PROFILING_MIN_HOURS_BETWEEN_QUESTIONS``
    ago in another interaction, nor beyond the rules' questions per interaction. The
    decision is made once per position and kept in the pending request.
    """
    if position not in schema_current().rule_positions:
        return QuestionNote(closed=True)  # no active rule asks here (no query: the cache)
    user = request.user
    now = timezone.now()
    last = last_question_at(user=user, exclude_interaction=pending.id)
    if last is not None and now - last < timedelta(hours=app_settings.MIN_HOURS_BETWEEN_QUESTIONS):
        return QuestionNote(closed=True)  # asked recently in another interaction
    questions_settle(user=user, now=now)
    asked, pages = _asked_in(pending)
    application = pending.client
    context = question_context(
        request=request,
        user=user,
        position=position,
        client_id=pending.client_id,
        now=now,
    )
    candidates = question_candidates(
        user=user,
        application=application,
        position=position,
        sign_ins=context["sign_ins"],
        scopes=list(pending.scopes),
        claims=list(pending.individually_requested_claims),
        asked_in_interaction=asked,
        now=now,
    )
    if candidates and pages >= max(c.rule.max_questions for c in candidates):
        candidates = []
    if not candidates:
        return QuestionNote(closed=True)
    bucket = learner.context_bucket(
        position=position,
        device_type=context["device"],
        hour=context["hour"],
        weekday=context["weekday"],
        sign_ins=context["sign_ins"],
    )
    context["skips"] = sum(c.history.skips for c in candidates)
    if app_settings.POLICY == "fixed":
        decision = learner.fixed_order(_learner_candidates(candidates, bucket, now))
    else:
        decision = learner.choose(
            _learner_candidates(candidates, bucket, now),
            rng=_rng,
            settings=_learner_settings(),
        )
    logged = None
    if decision.explored:
        logged = LearnerDecision.objects.create(
            user=user,
            interaction=pending.id,
            position=position,
            bucket=bucket[:64],
            candidates=[c.field.key for c in candidates],
            chosen=decision.field_key or "",
            propensity=decision.propensity,
        )
    if decision.field_key is None:
        return QuestionNote(
            closed=True,
            bucket=bucket,
            explored=decision.explored,
            propensity=decision.propensity,
            scores=decision.scores,
        )
    chosen = next(c for c in candidates if c.field.key == decision.field_key)
    fields = [chosen.field.key]
    if chosen.rule.fields_per_question > 1:
        fields += [
            c.field.key for c in candidates if c.rule.pk == chosen.rule.pk and c is not chosen
        ][: chosen.rule.fields_per_question - 1]
    return QuestionNote(
        fields=fields,
        rule=chosen.rule.pk,
        explored=decision.explored,
        propensity=decision.propensity,
        bucket=bucket,
        context=context,
        scores={k: round(v, 4) for k, v in decision.scores.items()},
        decision=logged.pk if logged is not None else None,
    )


def required_decide(*, request: Any, pending: Any) -> QuestionNote:
    """The required fields the client still needs (always asked, never learned from)."""
    missing = required_missing(user=request.user, application=pending.client)
    if not missing:
        return QuestionNote(closed=True)
    return QuestionNote(
        fields=[f.key for f in missing],
        context={"position": REQUIRED, "client": pending.client_id},
        bucket=REQUIRED,
    )


# --- showing and outcomes ---------------------------------------------------------------------


def question_show(*, user: Any, pending: Any, position: str, note: QuestionNote) -> QuestionNote:
    """Log the question page as shown (once per interaction and position)."""
    if note.questions:
        return note
    schema = schema_current().by_key
    # The rule may have been deleted since the decision.
    rule_id = note.rule if note.rule and AskRule.objects.filter(pk=note.rule).exists() else None
    rows = [
        ProfileQuestion(
            user=user,
            field=schema[key],
            rule_id=rule_id,
            client=pending.client,
            interaction=pending.id,
            required=position == REQUIRED,
            position=position if position != REQUIRED else Position.BEFORE_RETURN,
            context=note.context,
            bucket=note.bucket[:64],
            explored=note.explored,
            propensity=note.propensity,
        )
        for key in note.fields
        if key in schema
    ]
    # Two loads of the page at once log it once (one row per interaction and field).
    ProfileQuestion.objects.bulk_create(rows, ignore_conflicts=True)
    note.questions = list(
        ProfileQuestion.objects.filter(
            user=user,
            interaction=pending.id,
            required=position == REQUIRED,
            field__key__in=note.fields,
        ).values_list("pk", flat=True)
    )
    if note.decision is not None and note.questions:
        # The randomised decision's reward is the outcome of the field it chose.
        chosen = ProfileQuestion.objects.filter(
            pk__in=note.questions, field__key=note.fields[0]
        ).values_list("pk", flat=True)
        LearnerDecision.objects.filter(pk=note.decision, question__isnull=True).update(
            question_id=chosen.first()
        )
    return note


def _arm_record(*, field_id: int, bucket: str, outcome: str, shown: bool = True) -> None:
    counter = OUTCOME_FIELD.get(Outcome(outcome))
    for key in (bucket, learner.OVERALL_BUCKET):
        arm, _created = LearnerArm.objects.get_or_create(field_id=field_id, bucket=key)
        updates: dict[str, Any] = {"updated_at": timezone.now()}
        if shown:
            updates["shown"] = F("shown") + 1
        if counter:
            updates[counter] = F(counter) + 1
        LearnerArm.objects.filter(pk=arm.pk).update(**updates)


@transaction.atomic
def _questions_close(*, question_ids: list[int], outcome: str, now: datetime) -> int:
    """Give the pending questions among ``question_ids`` their outcome; tell the learner
    (optional questions only)."""
    rows = list(
        ProfileQuestion.objects.select_for_update().filter(
            pk__in=question_ids, outcome=Outcome.PENDING
        )
    )
    for row in rows:
        row.outcome = outcome
        row.decided_at = now
        row.save(update_fields=["outcome", "decided_at"])
        if not row.required:
            _arm_record(field_id=row.field_id, bucket=row.bucket, outcome=outcome)
    return len(rows)


def question_skip(*, note: QuestionNote) -> QuestionNote:
    """The customer skipped the question (optional questions only)."""
    _questions_close(question_ids=note.questions, outcome=Outcome.SKIPPED, now=timezone.now())
    note.closed = True
    return note


@dataclass(frozen=True)
class AnswerResult:
    """What became of an answer: ``saved``, ``invalid`` (errors to show), ``junk_again``
    (asked again politely) or ``junk`` (counted; the question is closed when optional)."""

    kind: str
    note: QuestionNote
    errors: dict[str, FieldInvalid] = field(default_factory=dict)


def question_answer(
    *, user: Any, pending: Any, position: str, note: QuestionNote, raw: Mapping[str, Any]
) -> AnswerResult:
    """Validate and store the answer ``raw`` (field key -> raw value) to ``note``'s fields,
    with provenance ``question`` and the client.

    Only the fields the page showed are read (one deactivated since the decision is left
    out), and a question page never removes a value: a field left empty is a skip of that
    field, an optional page left entirely empty a skip of the question, and a required
    field left empty is refused.
    """
    required = position == REQUIRED
    changes = {key: raw[key] for key in note.fields if key in raw}
    if not required and all(value_is_empty(value) for value in changes.values()):
        return AnswerResult("skipped", question_skip(note=note))
    given = {key: value for key, value in changes.items() if not value_is_empty(value)}
    errors: dict[str, FieldInvalid] = {}
    if required:
        errors = {
            key: FieldInvalid("required", gettext("Please fill this in."))
            for key, value in changes.items()
            if value_is_empty(value)
        }
    try:
        profile_update(user=user, changes=given, source=ValueSource.QUESTION, client=pending.client)
    except ProfileInvalid as invalid:
        errors = {**errors, **invalid.errors}
        junk_only = all(isinstance(error, FieldJunk) for error in invalid.errors.values())
        if junk_only and len(errors) == len(invalid.errors):
            note.junk += 1
            if note.junk > app_settings.JUNK_RETRIES and not required:
                _questions_close(
                    question_ids=note.questions, outcome=Outcome.JUNK, now=timezone.now()
                )
                note.closed = True
                return AnswerResult("junk", note, errors)
            return AnswerResult("junk_again", note, errors)
        return AnswerResult("invalid", note, errors)
    if errors:
        # Required fields left empty; the others were stored (and stay).
        return AnswerResult("invalid", note, errors)
    now = timezone.now()
    answered = set(
        ProfileQuestion.objects.filter(pk__in=note.questions, field__key__in=given).values_list(
            "pk", flat=True
        )
    )
    _questions_close(question_ids=sorted(answered), outcome=Outcome.ANSWERED, now=now)
    _questions_close(
        question_ids=[pk for pk in note.questions if pk not in answered],
        outcome=Outcome.SKIPPED,
        now=now,
    )
    note.closed = True
    return AnswerResult("saved", note)


def questions_settle(*, user: Any | None = None, now: datetime | None = None) -> int:
    """Questions still pending ``CIAM_PROFILING_ABANDON_AFTER_MINUTES`` after they were
    shown become abandoned sign-ins (of ``user``, or everyone's); returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=app_settings.ABANDON_AFTER_MINUTES)
    stale = ProfileQuestion.objects.filter(outcome=Outcome.PENDING, shown_at__lt=cutoff)
    if user is not None:
        stale = stale.filter(user=user)
    ids = list(stale.values_list("pk", flat=True)[:1000])
    if not ids:
        return 0
    return _questions_close(question_ids=ids, outcome=Outcome.ABANDONED, now=now)
