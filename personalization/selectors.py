"""Reads of the portal's "Interests" page: the customer's interests with the reason behind
each in plain words, the ones they removed, and the best time to reach them, in the page's
language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import formats, timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from consent.models import PurposeKind
from consent.selectors import purposes_current

from .app_settings import app_settings
from .models import Insight, Interest, InterestKind, InterestSource
from .services.consent import personalization_allowed

# The interaction types an explanation can name, in the order a sentence names them (what
# was bought before what was looked at). Other types (app opens, support contacts) say
# nothing about a category or brand.
EXPLAINED_TYPES = ("purchase", "page_view", "campaign_click")
FACTS_IN_EXPLANATION = 2
HOURS_IN_DAY = 24
RANGE_DASH = "\N{EN DASH}"  # between the ends of a time range (19:00-20:00)


@dataclass(frozen=True)
class InterestRow:
    """One interest as the page lists it."""

    id: int
    kind: str
    kind_label: str
    name: str
    score: float
    source: str
    explanation: str

    @property
    def declared(self) -> bool:
        """The customer added it themselves."""
        return self.source == InterestSource.CUSTOMER


@dataclass(frozen=True)
class ContactWindow:
    """When the customer is usually active, in their time zone: hour ranges ("19:00-21:00",
    an en dash between) and plural weekday names in calendar order, and whether it comes
    mostly from the population (too little own activity)."""

    hours: list[str]
    weekdays: list[str]
    from_population: bool
    time_zone: str
    sentence: str

    @property
    def time_zone_place(self) -> str:
        """The zone's city, as people say it: "America/Sao_Paulo" -> "Sao Paulo"."""
        return self.time_zone.rsplit("/", 1)[-1].replace("_", " ")


@dataclass(frozen=True)
class PurposeText:
    version_id: int
    title: str
    summary: str
    text: str


def personalization_purpose_texts() -> list[PurposeText]:
    """The current version of each personalization purpose, in the active language."""
    from django.utils.translation import get_language

    language = get_language() or "en"
    return [
        PurposeText(
            version_id=version.pk,
            title=version.title_for(language),
            summary=version.summary_for(language),
            text=version.text_for(language),
        )
        for version in purposes_current()
        if version.purpose.kind == PurposeKind.PERSONALIZATION
    ]


@dataclass(frozen=True)
class PortalInterests:
    """Everything the "Interests" page shows. ``offered``: a personalization purpose is
    published, so that it can be turned on."""

    allowed: bool
    offered: bool
    interests: list[InterestRow] = field(default_factory=list)
    # While off: the personalization purposes' current versions, in the page's language, as
    # turning on grants them (the ledger records the hash of exactly these words).
    purposes: list[PurposeText] = field(default_factory=list)
    removed: list[InterestRow] = field(default_factory=list)
    window: ContactWindow | None = None
    computed_at: datetime | None = None

    @property
    def declared_count(self) -> int:
        return sum(1 for row in self.interests if row.declared)

    @property
    def inferred_count(self) -> int:
        return len(self.interests) - self.declared_count


def interests_for_portal(*, user: Any) -> PortalInterests:
    """The page's content for ``user``: nothing but the switch while personalization is
    off (withdrawing deleted every derived row); otherwise the interests best first (those
    the customer added before inferred ones of the same score), the removed ones newest
    first, and the best contact window."""
    if not personalization_allowed(user=user):
        texts = personalization_purpose_texts()
        return PortalInterests(allowed=False, offered=bool(texts), purposes=texts)
    rows = list(Interest.objects.filter(user=user))
    shown = sorted(
        (row for row in rows if not row.hidden),
        key=lambda row: (-row.score, row.source != InterestSource.CUSTOMER, row.key.casefold()),
    )
    removed = sorted((row for row in rows if row.hidden), key=lambda row: row.updated_at)
    removed.reverse()
    insight = Insight.objects.filter(user=user).first()
    return PortalInterests(
        allowed=True,
        offered=True,
        interests=[_row(row) for row in shown],
        removed=[_row(row) for row in removed],
        window=contact_window(insight) if insight is not None else None,
        computed_at=insight.computed_at if insight is not None else None,
    )


def kind_label(kind: str) -> str:
    if kind == InterestKind.BRAND:
        return pgettext("kind of interest", "Brand")
    return pgettext("kind of interest", "Category")


def _row(interest: Interest) -> InterestRow:
    return InterestRow(
        id=interest.pk,
        kind=interest.kind,
        kind_label=kind_label(interest.kind),
        name=interest.key,
        score=float(interest.score),
        source=interest.source,
        explanation=interest_explanation(interest),
    )


# --- explanations ---------------------------------------------------------------------------


def _count(evidence: Mapping[str, Any], key: str) -> int:
    value = evidence.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def _times(count: int) -> str:
    """ "once", "twice", "3 times"."""
    if count == 2:  # English says "twice", not "2 times"
        return pgettext("how often", "twice")
    return ngettext("once", "%(count)s times", count) % {"count": count}


def _first_fact(kind: str, evidence_type: str, name: str, count: int) -> str:
    """The strongest fact, naming the interest: "you bought from Acme 3 times"."""
    values = {"name": name, "times": _times(count)}
    if kind == InterestKind.BRAND:
        if evidence_type == "purchase":
            return pgettext("why a brand", "you bought from %(name)s %(times)s") % values
        if evidence_type == "page_view":
            return pgettext("why a brand", "you viewed %(name)s %(times)s") % values
        return pgettext("why a brand", "you opened offers from %(name)s %(times)s") % values
    if evidence_type == "purchase":
        return pgettext("why a category", "you bought %(name)s %(times)s") % values
    if evidence_type == "page_view":
        return pgettext("why a category", "you viewed %(name)s %(times)s") % values
    return pgettext("why a category", "you opened offers for %(name)s %(times)s") % values


def _second_fact(kind: str, evidence_type: str, count: int) -> str:
    """The next fact, after the interest was named: "viewed it twice"."""
    values = {"times": _times(count)}
    if kind == InterestKind.BRAND:
        if evidence_type == "purchase":
            return pgettext("why a brand, second fact", "bought from it %(times)s") % values
        if evidence_type == "page_view":
            return pgettext("why a brand, second fact", "viewed it %(times)s") % values
        return pgettext("why a brand, second fact", "opened its offers %(times)s") % values
    if evidence_type == "purchase":
        return pgettext("why a category, second fact", "bought it %(times)s") % values
    if evidence_type == "page_view":
        return pgettext("why a category, second fact", "viewed it %(times)s") % values
    return pgettext("why a category, second fact", "opened offers for it %(times)s") % values


def _strongest_facts(evidence: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The two facts that weigh most (count x the type's weight), in sentence order."""
    weights = app_settings.TYPE_WEIGHTS
    facts = [
        (evidence_type, count)
        for evidence_type in EXPLAINED_TYPES
        if (count := _count(evidence, evidence_type)) and weights.get(evidence_type, 1.0) > 0
    ]
    strongest = sorted(
        facts,
        key=lambda fact: (-fact[1] * weights.get(fact[0], 1.0), EXPLAINED_TYPES.index(fact[0])),
    )[:FACTS_IN_EXPLANATION]
    return sorted(strongest, key=lambda fact: EXPLAINED_TYPES.index(fact[0]))


def _last_activity(evidence: Mapping[str, Any]) -> str:
    """ "Last time on 30 November 2026." from ``last_at``; empty when it is not a date."""
    raw = evidence.get("last_at")
    if not isinstance(raw, str) or not raw:
        return ""
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return ""
    if timezone.is_aware(at):
        at = timezone.localtime(at)
    date = formats.date_format(at.date(), "DATE_FORMAT")
    return pgettext("interest explanation", "Last time on %(date)s.") % {"date": date}


def interest_explanation(interest: Interest) -> str:
    """Why ``interest`` is on the customer's list, in plain words of the active language:
    "You added this.", "Because you bought from Acme 3 times and viewed it twice. Last time
    on Nov. 30, 2026.", "Because customers with similar tastes like it." """
    if interest.source == InterestSource.CUSTOMER:
        return pgettext("interest explanation", "You added this.")
    evidence: Mapping[str, Any] = interest.evidence if isinstance(interest.evidence, dict) else {}
    facts = _strongest_facts(evidence)
    if not facts:
        if _count(evidence, "similar_customers"):
            return pgettext(
                "interest explanation", "Because customers with similar tastes like it."
            )
        return pgettext("interest explanation", "Learned from your activity.")
    (first_type, first_count), *rest = facts
    first = _first_fact(interest.kind, first_type, interest.key, first_count)
    if rest:
        second = _second_fact(interest.kind, rest[0][0], rest[0][1])
        reason = pgettext("interest explanation", "Because %(first)s and %(second)s.") % {
            "first": first,
            "second": second,
        }
    else:
        reason = pgettext("interest explanation", "Because %(fact)s.") % {"fact": first}
    last = _last_activity(evidence)
    return f"{reason} {last}" if last else reason


# --- the best contact window ---------------------------------------------------------------


def _weekday_name(weekday: int) -> str:
    """ISO weekday (1 = Monday) as a plural noun: "Tuesdays"."""
    return [
        pgettext("weekday, plural", "Mondays"),
        pgettext("weekday, plural", "Tuesdays"),
        pgettext("weekday, plural", "Wednesdays"),
        pgettext("weekday, plural", "Thursdays"),
        pgettext("weekday, plural", "Fridays"),
        pgettext("weekday, plural", "Saturdays"),
        pgettext("weekday, plural", "Sundays"),
    ][weekday - 1]


def _valid(values: Any, low: int, high: int) -> list[int]:
    """The distinct whole numbers from ``low`` to ``high`` in the JSON list ``values``."""
    found: list[int] = []
    for value in values if isinstance(values, list) else []:
        whole = isinstance(value, int) and not isinstance(value, bool)
        if whole and low <= value <= high and value not in found:
            found.append(value)
    return found


def hour_ranges(hours: Any) -> list[str]:
    """Local hours (0-23) as time ranges in the day's order, neighbouring hours joined:
    [20, 19, 12] -> ["12:00-13:00", "19:00-21:00"]; [23, 0] -> ["23:00-01:00"] (with
    an en dash)."""
    found = set(_valid(hours, 0, HOURS_IN_DAY - 1))
    if not found:
        return []
    if len(found) == HOURS_IN_DAY:
        return [f"00:00{RANGE_DASH}24:00"]
    # Start each run at an hour whose previous hour is not in the window (a run may cross
    # midnight: 23:00-01:00).
    starts = sorted(hour for hour in found if (hour - 1) % HOURS_IN_DAY not in found)
    ranges = []
    for start in starts:
        end = start
        while (end + 1) % HOURS_IN_DAY in found:
            end = (end + 1) % HOURS_IN_DAY
        ranges.append(f"{start:02d}:00{RANGE_DASH}{(end + 1) % HOURS_IN_DAY:02d}:00")
    return ranges


def _and_list(items: list[str]) -> str:
    return str(get_text_list(items, pgettext("the last two items of a list", "and")))


def contact_window(insight: Insight) -> ContactWindow:
    """The insight's best hours and weekdays, readable, with the sentence that says them."""
    hours = hour_ranges(insight.best_hours)
    weekdays = [_weekday_name(day) for day in sorted(_valid(insight.best_weekdays, 1, 7))]
    return ContactWindow(
        hours=hours,
        weekdays=weekdays,
        from_population=bool(insight.window_from_prior),
        time_zone=insight.time_zone or app_settings.TIME_ZONE,
        sentence=window_sentence(hours, weekdays, from_population=insight.window_from_prior),
    )


def window_sentence(hours: list[str], weekdays: list[str], *, from_population: bool) -> str:
    """ "You are usually active around 19:00-20:00 on Tuesdays and Thursdays.", or, from the
    population, "Not enough activity yet: like most customers, ..." """
    values = {"hours": _and_list(hours), "days": _and_list(weekdays)}
    if from_population:
        if hours and weekdays:
            text = _(
                "Not enough activity yet: like most customers, you are likely to be active "
                "around %(hours)s on %(days)s."
            )
        elif hours:
            text = _(
                "Not enough activity yet: like most customers, you are likely to be active "
                "around %(hours)s."
            )
        elif weekdays:
            text = _(
                "Not enough activity yet: like most customers, you are likely to be active "
                "on %(days)s."
            )
        else:
            text = _("Not enough activity yet to tell when you are usually active.")
    elif hours and weekdays:
        text = _("You are usually active around %(hours)s on %(days)s.")
    elif hours:
        text = _("You are usually active around %(hours)s.")
    elif weekdays:
        text = _("You are usually active on %(days)s.")
    else:
        text = _("Not enough activity yet to tell when you are usually active.")
    return text % values
