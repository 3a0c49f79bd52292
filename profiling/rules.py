"""Which profile questions may be asked in an interaction (reads only).

A field is a candidate for an optional question when an active ask rule for this position in
the journey lists it and every condition of the rule holds:

- the client is one of the rule's clients (or the rule names none), and is marked
  transactional when the rule asks only before such clients (a checkout);
- the user is at least at sign-in number ``min_sign_ins`` and ``min_days_since_signup`` days
  old; with ``when_requested``, the request's scopes or claims include the field's claim;
- the field is active, has no value yet, and its consent purpose (if any) is granted;
- the user skipped it (or gave junk) fewer than ``max_skips`` times, the last time more than
  ``snooze_days`` ago, and it was not asked already in this interaction.

Required fields are the client's (``ClientProfileSettings.required_fields``): every one
without a value is asked before the code, whatever the rules say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q

from ciam.claims import SCOPE_CLAIMS
from consent.selectors import purposes_granted

from .models import AskRule, Outcome, ProfileField, ProfileQuestion, value_is_empty
from .schema import schema_current

SKIP_OUTCOMES = (Outcome.SKIPPED, Outcome.JUNK)


@dataclass(frozen=True)
class FieldHistory:
    """What one user did with questions about one field."""

    skips: int = 0
    last_skip_at: datetime | None = None


@dataclass(frozen=True)
class Candidate:
    """A field that may be asked now, and the rule that allows it."""

    field: ProfileField
    rule: AskRule
    history: FieldHistory = FieldHistory()


def _values(user: Any) -> dict[str, Any]:
    profile = getattr(user, "profile", None)
    return dict(profile.values or {}) if profile is not None else {}


def _filled(values: dict[str, Any], key: str) -> bool:
    return not value_is_empty(values.get(key))


def required_missing(*, user: Any, application: Any) -> list[ProfileField]:
    """The active fields ``application`` requires that ``user`` has no value for and may be
    asked for: a field with a consent purpose only while the user grants it to this client
    (the consent step, before, asks for the client's required purposes)."""
    if application is None:
        return []
    schema = schema_current()
    keys = schema.required.get(application.pk, ())
    if not keys:
        return []
    active = schema.by_key
    values = _values(user)
    missing = sorted(
        (
            active[key]
            for key in keys
            if key in active and active[key].editable and not _filled(values, key)
        ),
        key=lambda f: (f.order, f.key),
    )
    purposes = {f.purpose_id for f in missing if f.purpose_id}
    if purposes:
        granted = purposes_granted(user=user, purpose_ids=purposes, application=application)
        missing = [f for f in missing if not f.purpose_id or f.purpose_id in granted]
    return missing


def field_histories(*, user: Any) -> dict[int, FieldHistory]:
    """Field id -> the user's skips of it and when the last one was (one aggregate query)."""
    rows = (
        ProfileQuestion.objects.filter(user=user, required=False)
        .values("field_id")
        .annotate(
            skips=Count("pk", filter=Q(outcome__in=SKIP_OUTCOMES)),
            last_skip_at=Max("decided_at", filter=Q(outcome__in=SKIP_OUTCOMES)),
        )
    )
    return {
        row["field_id"]: FieldHistory(skips=row["skips"], last_skip_at=row["last_skip_at"])
        for row in rows
    }


def requested_claims(*, scopes: list[str], claims: list[str]) -> set[str]:
    """The claims a request asks for: those of its scopes (standard, and the schema's custom
    claims of those scopes) and those asked for one by one."""
    names = {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}
    names |= {f.claim for f in schema_current().fields if f.claim and f.scope in scopes}
    return names | set(claims)


def question_candidates(
    *,
    user: Any,
    application: Any,
    position: str,
    sign_ins: int,
    scopes: list[str],
    claims: list[str],
    asked_in_interaction: set[str],
    now: datetime,
) -> list[Candidate]:
    """The fields that may be asked at ``position`` now, in rule priority order (module
    docstring); each field once, with the first rule that allows it."""
    rules = list(
        AskRule.objects.filter(active=True, position=position)
        .prefetch_related("fields", "clients")
        .order_by("priority", "pk")
    )
    if not rules:
        return []
    schema = schema_current()
    values = _values(user)
    transactional = application is not None and application.pk in schema.transactional
    days = (now - user.date_joined).total_seconds() / 86400 if user.date_joined else 0.0
    histories = field_histories(user=user)
    wanted = requested_claims(scopes=scopes, claims=claims)
    chosen: dict[str, Candidate] = {}
    purposes: set[int] = set()
    for rule in rules:
        clients = list(rule.clients.all())
        if clients and (application is None or application.pk not in {c.pk for c in clients}):
            continue
        if rule.transactional_only and not transactional:
            continue
        if sign_ins < rule.min_sign_ins or days < rule.min_days_since_signup:
            continue
        for f in rule.fields.all().order_by("order", "key"):
            if f.key in chosen or f.key in asked_in_interaction or f.key not in schema.by_key:
                continue
            if not schema.by_key[f.key].editable:
                continue
            if _filled(values, f.key):
                continue
            if rule.when_requested and (not f.claim or f.claim not in wanted):
                continue
            history = histories.get(f.pk, FieldHistory())
            if history.skips >= rule.max_skips:
                continue
            if history.last_skip_at and now - history.last_skip_at < timedelta(
                days=rule.snooze_days
            ):
                continue
            chosen[f.key] = Candidate(field=schema.by_key[f.key], rule=rule, history=history)
            if f.purpose_id:
                purposes.add(f.purpose_id)
    if purposes:
        granted = purposes_granted(user=user, purpose_ids=purposes, application=application)
        chosen = {
            key: c
            for key, c in chosen.items()
            if not c.field.purpose_id or c.field.purpose_id in granted
        }
    return list(chosen.values())


def last_question_at(*, user: Any, exclude_interaction: str = "") -> datetime | None:
    """When an optional question was last shown to ``user`` (outside
    ``exclude_interaction``)."""
    return (
        ProfileQuestion.objects.filter(user=user, required=False)
        .exclude(interaction=exclude_interaction)
        .order_by("-shown_at")
        .values_list("shown_at", flat=True)
        .first()
    )
