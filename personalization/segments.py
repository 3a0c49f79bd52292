"""The rule language of operators' segments.

``Segment.conditions`` is a JSON list of conditions; a customer is a member when every one
holds (an empty list: every consenting customer). The shapes:

- ``{"type": "interest", "kind": "brand"|"category", "name": "Acme", "min_score": 0.5}``:
  an interest the customer did not remove, of that kind, its name matched without regard to
  case, scoring at least ``min_score`` (0 to 1, optional, default 0);
- ``{"type": "engaged_within_days", "days": 30}``: the customer's last engagement
  (``Insight.engaged_at``) at most ``days`` ago (1 to 3650);
- ``{"type": "consent", "purpose": "<purpose key>"}``: the customer's latest ledger decision
  about that purpose grants it;
- ``{"type": "profile", "field": "<field key>", "op": "set"|"equals"|"in", "value": ...}``:
  the customer's profile value of that field is filled (``set``, no ``value``), equals
  ``value`` (one text, number or yes/no) or is one of ``value`` (a list of them). Values are
  normalised as the profile stores them (a phone number in E.164, a date as YYYY-MM-DD); for a
  field of several choices the test holds when any chosen value matches. A field asked under
  a consent purpose is read only for customers who grant that purpose;
- ``{"type": "best_hour", "hours": [18, 19, 20]}``: one of the customer's best contact hours
  (``Insight.best_hours``, 0 to 23) is in the list.

``segment_conditions_parse`` checks a value and gives the conditions (``SegmentError`` with a
translated message naming the faulty condition otherwise); ``segment_members`` turns them
into one database query. Only customers who grant a personalization purpose now are ever
members (LGPD art. 6 I: the derived data serves the purpose it was given for).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone
from django.utils.translation import gettext

from consent.models import GRANTING_ACTIONS, ConsentRecord, Purpose
from consent.selectors import standing_records
from profiling.models import FieldType, Profile, ProfileField

from .models import KEY_MAX_LENGTH, Insight, Interest, InterestKind

MAX_CONDITIONS = 20
MAX_DAYS = 3650
MAX_VALUES = 100  # of a profile condition's "in" list
HOURS = range(24)


class SegmentError(ValueError):
    """Conditions that cannot be used; ``message`` (translated at raise time) says which
    condition and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- The conditions ------------------------------------------------------------------------


def _granting(records: QuerySet[ConsentRecord]) -> QuerySet[Any]:
    """User ids of ``records`` (standing decisions: ``consent.selectors.standing_records``)
    that grant their purpose."""
    return records.filter(action__in=GRANTING_ACTIONS).values("user_id")


def granting_user_ids(*, purpose_ids: list[int]) -> QuerySet[Any]:
    """Ids of the customers whose standing decision grants one of ``purpose_ids``."""
    return _granting(standing_records().filter(purpose_id__in=purpose_ids))


@dataclass(frozen=True)
class InterestCondition:
    type: ClassVar[str] = "interest"
    kind: str
    name: str
    min_score: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "kind": self.kind,
            "name": self.name,
            "min_score": self.min_score,
        }

    def user_ids(self, *, now: datetime) -> QuerySet[Any]:
        return Interest.objects.filter(
            kind=self.kind, key__iexact=self.name, hidden=False, score__gte=self.min_score
        ).values("user_id")


@dataclass(frozen=True)
class EngagedCondition:
    type: ClassVar[str] = "engaged_within_days"
    days: int

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "days": self.days}

    def user_ids(self, *, now: datetime) -> QuerySet[Any]:
        return Insight.objects.filter(engaged_at__gte=now - timedelta(days=self.days)).values(
            "user_id"
        )


@dataclass(frozen=True)
class ConsentCondition:
    type: ClassVar[str] = "consent"
    purpose: str

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "purpose": self.purpose}

    def user_ids(self, *, now: datetime) -> QuerySet[Any]:
        return _granting(standing_records().filter(purpose__key=self.purpose))


@dataclass(frozen=True)
class ProfileCondition:
    type: ClassVar[str] = "profile"
    field: str
    op: str  # "set" | "equals" | "in"
    values: tuple[Any, ...] = ()  # normalised; one for "equals"
    # What the query needs from the field, read when the conditions were parsed.
    several: bool = False  # a field of several choices (its value is a list)
    positions: int = 0  # how many choices it has
    purpose_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": self.type, "field": self.field, "op": self.op}
        if self.op == "equals":
            found["value"] = self.values[0]
        elif self.op == "in":
            found["value"] = list(self.values)
        return found

    def _matches(self) -> Q:
        if self.op == "set":
            # Filled: the key is there and holds something ("", [], {} and null are nothing).
            return Q(values__has_key=self.field) & ~(
                Q(_value=None) | Q(_value="") | Q(_value=[]) | Q(_value={})
            )
        if not self.several:
            return Q(_value__in=list(self.values))
        # A list of choices: one of its items matches (JSON paths work on SQLite and
        # PostgreSQL alike, where containment does not).
        matches = Q()
        for position in range(self.positions):
            matches |= Q(**{f"_item{position}__in": list(self.values)})
        return matches

    def user_ids(self, *, now: datetime) -> QuerySet[Any]:
        value = KeyTransform(self.field, "values")
        items = {
            f"_item{position}": KeyTransform(str(position), value)
            for position in range(self.positions if self.several else 0)
        }
        profiles = Profile.objects.annotate(_value=value, **items).filter(self._matches())
        if self.purpose_id is not None:
            profiles = profiles.filter(user_id__in=granting_user_ids(purpose_ids=[self.purpose_id]))
        return profiles.values("user_id")


@dataclass(frozen=True)
class BestHourCondition:
    type: ClassVar[str] = "best_hour"
    hours: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "hours": list(self.hours)}

    def user_ids(self, *, now: datetime) -> QuerySet[Any]:
        # best_hours holds distinct hours, so at most 24 positions; "any of them is in the
        # list" as one JSON path test per position.
        matches = Q()
        for position in HOURS:
            matches |= Q(**{f"best_hours__{position}__in": list(self.hours)})
        return Insight.objects.filter(matches).values("user_id")


Condition = (
    InterestCondition | EngagedCondition | ConsentCondition | ProfileCondition | BestHourCondition
)

CONDITION_TYPES = (
    InterestCondition.type,
    EngagedCondition.type,
    ConsentCondition.type,
    ProfileCondition.type,
    BestHourCondition.type,
)


# --- Reading and checking ------------------------------------------------------------------


class _Checker:
    """Reads condition ``number`` (1-based) of type ``type``."""

    def __init__(self, number: int, raw: dict[str, Any], type_: str) -> None:
        self.number = number
        self.raw = raw
        self.type = type_

    def error(self, problem: str) -> SegmentError:
        return SegmentError(
            gettext("Condition %(number)d (%(type)s): %(problem)s")
            % {"number": self.number, "type": self.type, "problem": problem}
        )

    def keys(self, required: set[str], optional: frozenset[str] = frozenset()) -> None:
        present = set(self.raw) - {"type"}
        missing = sorted(required - present)
        if missing:
            raise self.error(gettext("“%(key)s” is missing.") % {"key": missing[0]})
        unknown = sorted(present - required - optional)
        if unknown:
            raise self.error(
                gettext("unknown key %(keys)s.") % {"keys": ", ".join(f"“{k}”" for k in unknown)}
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_name(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _interest(check: _Checker) -> InterestCondition:
    check.keys({"kind", "name"}, frozenset({"min_score"}))
    kind = check.raw["kind"]
    if kind not in InterestKind.values:
        raise check.error(gettext("“kind” is “brand” or “category”."))
    name = _clean_name(check.raw["name"])
    if not name:
        raise check.error(gettext("“name” is the name of the brand or category, not empty."))
    if len(name) > KEY_MAX_LENGTH:
        raise check.error(
            gettext("“name” has at most %(count)d characters.") % {"count": KEY_MAX_LENGTH}
        )
    min_score = check.raw.get("min_score", 0)
    if not _is_number(min_score) or not 0 <= min_score <= 1:
        raise check.error(gettext("“min_score” is a number from 0 to 1."))
    return InterestCondition(kind=str(kind), name=name, min_score=float(min_score))


def _engaged(check: _Checker) -> EngagedCondition:
    check.keys({"days"})
    days = check.raw["days"]
    if not _is_whole(days) or not 1 <= days <= MAX_DAYS:
        raise check.error(
            gettext("“days” is a whole number from 1 to %(most)d.") % {"most": MAX_DAYS}
        )
    return EngagedCondition(days=int(days))


def _consent(check: _Checker) -> ConsentCondition:
    check.keys({"purpose"})
    key = check.raw["purpose"]
    if not isinstance(key, str) or not Purpose.objects.filter(key=key).exists():
        raise check.error(gettext("no consent purpose has the key “%(key)s”.") % {"key": key})
    return ConsentCondition(purpose=key)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _profile_value(check: _Checker, field: ProfileField, raw: Any) -> Any:
    """``raw`` as the profile stores values of ``field``."""
    from profiling.validation import FieldInvalid, value_normalise

    if field.type == FieldType.MULTI_CHOICE:
        value = str(raw) if _is_whole(raw) else raw
        if not isinstance(value, str) or value not in field.choice_values():
            raise check.error(
                gettext("“%(value)s” is not one of the choices of “%(field)s”.")
                % {"value": raw, "field": field.key}
            )
        return value
    # An operator's value is not a customer's answer: it is not checked for junk.
    lenient = copy.copy(field)
    lenient.check_junk = False
    try:
        value = value_normalise(lenient, raw)
    except FieldInvalid as error:
        raise check.error(
            gettext("“%(value)s” is not a value of “%(field)s”: %(reason)s")
            % {"value": raw, "field": field.key, "reason": error.message}
        ) from None
    if value is None:
        raise check.error(gettext("“value” is empty."))
    return value


def _profile(check: _Checker) -> ProfileCondition:
    op = check.raw.get("op")
    if op not in ("set", "equals", "in"):
        check.keys({"field", "op"}, frozenset({"value"}))
        raise check.error(gettext("“op” is “set”, “equals” or “in”."))
    check.keys({"field", "op"} if op == "set" else {"field", "op", "value"})
    key = check.raw["field"]
    field = ProfileField.objects.filter(key=key).first() if isinstance(key, str) and key else None
    if field is None:
        raise check.error(gettext("no profile field has the key “%(key)s”.") % {"key": key})
    values: tuple[Any, ...] = ()
    if op != "set" and field.type == FieldType.ADDRESS:
        raise check.error(gettext("an address is only tested with “set”."))
    if op == "equals":
        raw = check.raw["value"]
        if not _scalar(raw):
            raise check.error(gettext("“value” is one text, number or yes/no value."))
        values = (_profile_value(check, field, raw),)
    elif op == "in":
        raw = check.raw["value"]
        if (
            not isinstance(raw, list)
            or not 1 <= len(raw) <= MAX_VALUES
            or not all(_scalar(item) for item in raw)
        ):
            raise check.error(
                gettext("“value” is a list of 1 to %(most)d texts, numbers or yes/no values.")
                % {"most": MAX_VALUES}
            )
        values = tuple(dict.fromkeys(_profile_value(check, field, item) for item in raw))
    several = field.type == FieldType.MULTI_CHOICE
    return ProfileCondition(
        field=field.key,
        op=str(op),
        values=values,
        several=several,
        positions=len(field.choice_values()) if several else 0,
        purpose_id=field.purpose_id,
    )


def _best_hour(check: _Checker) -> BestHourCondition:
    check.keys({"hours"})
    hours = check.raw["hours"]
    if (
        not isinstance(hours, list)
        or not hours
        or not all(_is_whole(hour) and hour in HOURS for hour in hours)
    ):
        raise check.error(gettext("“hours” is a list of hours from 0 to 23, e.g. [18, 19]."))
    return BestHourCondition(hours=tuple(sorted(set(hours))))


_READERS: dict[str, Callable[[_Checker], Condition]] = {
    InterestCondition.type: _interest,
    EngagedCondition.type: _engaged,
    ConsentCondition.type: _consent,
    ProfileCondition.type: _profile,
    BestHourCondition.type: _best_hour,
}


def segment_conditions_parse(value: Any) -> list[Condition]:
    """The conditions ``value`` (a segment's ``conditions``, JSON) holds, checked: purposes
    and profile fields must exist, numbers be in range. ``SegmentError`` otherwise."""
    if not isinstance(value, list):
        raise SegmentError(
            gettext(
                "The conditions are a JSON list of objects, e.g. "
                '[{"type": "engaged_within_days", "days": 30}] ([] for every consenting '
                "customer)."
            )
        )
    if len(value) > MAX_CONDITIONS:
        raise SegmentError(
            gettext("A segment has at most %(most)d conditions.") % {"most": MAX_CONDITIONS}
        )
    conditions: list[Condition] = []
    for number, raw in enumerate(value, start=1):
        if not isinstance(raw, dict):
            raise SegmentError(
                gettext("Condition %(number)d is not a JSON object.") % {"number": number}
            )
        type_ = raw.get("type")
        reader = _READERS.get(type_) if isinstance(type_, str) else None
        if reader is None or not isinstance(type_, str):
            raise SegmentError(
                gettext("Condition %(number)d: unknown type “%(type)s”; the types are %(types)s.")
                % {
                    "number": number,
                    "type": type_ if type_ is not None else "",
                    "types": ", ".join(CONDITION_TYPES),
                }
            )
        conditions.append(reader(_Checker(number, raw, type_)))
    return conditions


def segment_conditions_json(conditions: list[Condition]) -> list[dict[str, Any]]:
    """``conditions`` as stored (normalised: names trimmed, values as the profile keeps
    them)."""
    return [condition.as_json() for condition in conditions]


# --- Members -------------------------------------------------------------------------------


def members_query(
    conditions: list[Condition],
    *,
    now: datetime | None = None,
    among: list[int] | None = None,
) -> QuerySet[Any]:
    """Ids of the customers who grant a personalization purpose now and meet every one of
    ``conditions``: one query, each condition a subquery (indexes do the work, no customer
    is read into Python). ``among``: only these user ids (each subquery is narrowed to
    them, so that checking a few customers reads only their rows)."""
    from .services.consent import personalization_purposes

    users = get_user_model().objects.all()
    purpose_ids = [purpose.pk for purpose in personalization_purposes()]
    if not purpose_ids or (among is not None and not among):
        return users.none().values_list("pk", flat=True)
    now = now or timezone.now()
    subqueries = [granting_user_ids(purpose_ids=purpose_ids)]
    subqueries += [condition.user_ids(now=now) for condition in conditions]
    if among is not None:
        users = users.filter(pk__in=among)
        subqueries = [subquery.filter(user_id__in=among) for subquery in subqueries]
    for subquery in subqueries:
        users = users.filter(pk__in=subquery)
    return users.values_list("pk", flat=True)


def segment_members(
    segment: Any, *, now: datetime | None = None, among: list[int] | None = None
) -> QuerySet[Any]:
    """Ids of the customers who meet ``segment``'s conditions now (a lazy query), among
    ``among`` when given. ``SegmentError`` when the stored conditions no longer check (a
    purpose or profile field they name was deleted)."""
    return members_query(segment_conditions_parse(segment.conditions), now=now, among=among)
