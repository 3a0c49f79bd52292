"""Segments: the rule language (each condition type holds or not, malformed conditions are
refused with a message naming the fault), membership only for customers who grant a
personalization purpose, and the recompute that writes memberships, counts, insights and
``segment.entered`` / ``segment.left`` events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent.models import Purpose, PurposeKind
from events.models import OutboxEvent
from personalization.models import Insight, Interest, Segment, SegmentMembership
from personalization.segments import (
    MAX_CONDITIONS,
    SegmentError,
    segment_conditions_json,
    segment_conditions_parse,
    segment_members,
)
from personalization.services.insight import insight_refresh
from personalization.services.segments import segment_delete, segments_recompute
from profiling.models import FieldType, Profile, ProfileField
from tests.consent.purposes_helpers import make_purpose
from tests.interactions.conftest import decide


def members(conditions: list[dict[str, Any]]) -> set[int]:
    segment = Segment(key="probe", name_en="Probe", conditions=conditions)
    return set(segment_members(segment))


def profile(user: Any, **values: Any) -> None:
    Profile.objects.update_or_create(user=user, defaults={"values": values})


def field(key: str, type_: str = FieldType.TEXT, **extra: Any) -> ProfileField:
    return ProfileField.objects.create(key=key, type=type_, label_en=key.title(), **extra)


def segment_events(type_: str | None = None) -> list[OutboxEvent]:
    events = OutboxEvent.objects.filter(type__startswith="segment.").order_by("id")
    return list(events.filter(type=type_) if type_ else events)


# --- Each condition type ------------------------------------------------------------------


def test_interest_condition(segment_customer):
    """A visible interest of that kind, named in any case, at or above the score."""
    fan, lukewarm, removed, other_kind = (segment_customer() for _ in range(4))
    Interest.objects.create(user=fan, kind="brand", key="Acme", score=0.8)
    Interest.objects.create(user=lukewarm, kind="brand", key="Acme", score=0.3)
    Interest.objects.create(user=removed, kind="brand", key="Acme", score=0.9, hidden=True)
    Interest.objects.create(user=other_kind, kind="category", key="Acme", score=0.9)
    condition = {"type": "interest", "kind": "brand", "name": " acme ", "min_score": 0.5}
    assert members([condition]) == {fan.pk}
    without_score = {"type": "interest", "kind": "brand", "name": "ACME"}
    assert members([without_score]) == {fan.pk, lukewarm.pk}


def test_engaged_within_days_condition(segment_customer):
    """Engaged at most N days ago; an older engagement or none does not count."""
    recent, old, never = (segment_customer() for _ in range(3))
    now = timezone.now()
    Insight.objects.create(user=recent, engaged_at=now - timedelta(days=5))
    Insight.objects.create(user=old, engaged_at=now - timedelta(days=40))
    Insight.objects.create(user=never, engaged_at=None)
    assert members([{"type": "engaged_within_days", "days": 30}]) == {recent.pk}
    assert members([{"type": "engaged_within_days", "days": 60}]) == {recent.pk, old.pk}


def test_consent_condition(segment_customer, segment_purposes):
    """The customer's latest decision about the purpose grants it: a withdrawal undoes an
    earlier grant."""
    granting = segment_customer(newsletter=True)
    withdrawn = segment_customer(newsletter=True)
    decide(withdrawn, segment_purposes["newsletter"], "withdrawn")
    never = segment_customer()
    found = members([{"type": "consent", "purpose": "newsletter"}])
    assert found == {granting.pk}
    assert never.pk not in found


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("set", None, {"recife", "natal"}),
        ("equals", "Recife", {"recife"}),
        ("in", ["Recife", "Natal"], {"recife", "natal"}),
        ("in", ["Olinda"], set()),
    ],
)
def test_profile_text_condition(segment_customer, op, value, expected):
    """``set`` needs a filled value (empty text, null and a missing key are not); ``equals``
    and ``in`` compare the stored value."""
    field("city")
    people = {name: segment_customer() for name in ("recife", "natal", "empty", "null", "none")}
    profile(people["recife"], city="Recife")
    profile(people["natal"], city="Natal")
    profile(people["empty"], city="")
    profile(people["null"], city=None)
    profile(people["none"], other="x")
    condition: dict[str, Any] = {"type": "profile", "field": "city", "op": op}
    if value is not None:
        condition["value"] = value
    assert members([condition]) == {people[name].pk for name in expected}


def test_profile_condition_on_numbers_booleans_and_phones(segment_customer):
    """Numbers and yes/no compare as JSON values; a phone number typed as people write it
    matches the E.164 form the profile stores."""
    field("children", FieldType.NUMBER)
    field("vip", FieldType.BOOLEAN)
    field("mobile", FieldType.PHONE)
    two, none_, phone = segment_customer(), segment_customer(), segment_customer()
    profile(two, children=2, vip=True)
    profile(none_, children=0, vip=False)
    profile(phone, mobile="+5511987654321")
    equals = {"type": "profile", "field": "children", "op": "equals", "value": 2}
    assert members([equals]) == {two.pk}
    assert members([{**equals, "op": "in", "value": [0, 3]}]) == {none_.pk}
    assert members([{"type": "profile", "field": "vip", "op": "equals", "value": True}]) == {two.pk}
    assert members([{"type": "profile", "field": "vip", "op": "equals", "value": False}]) == {
        none_.pk
    }
    typed = {"type": "profile", "field": "mobile", "op": "equals", "value": "(11) 98765-4321"}
    assert members([typed]) == {phone.pk}
    assert segment_conditions_json(segment_conditions_parse([typed]))[0]["value"] == (
        "+5511987654321"
    )


def test_profile_condition_on_several_choices(segment_customer):
    """For a field of several choices the test holds when any chosen value matches."""
    choices = [{"value": v, "label_en": v} for v in ("run", "swim", "bike")]
    field("sports", FieldType.MULTI_CHOICE, choices=choices)
    swimmer, cyclist, nothing = segment_customer(), segment_customer(), segment_customer()
    profile(swimmer, sports=["run", "swim"])
    profile(cyclist, sports=["bike"])
    profile(nothing, sports=[], home={})
    condition = {"type": "profile", "field": "sports", "op": "in", "value": ["swim"]}
    assert members([condition]) == {swimmer.pk}
    assert members([{**condition, "op": "equals", "value": "bike"}]) == {cyclist.pk}
    assert members([{"type": "profile", "field": "sports", "op": "set"}]) == {
        swimmer.pk,
        cyclist.pk,
    }
    field("home", FieldType.ADDRESS)
    assert members([{"type": "profile", "field": "home", "op": "set"}]) == set()


def test_profile_condition_needs_the_purpose_of_its_field(segment_customer, segment_purposes):
    """A field asked under a consent purpose is read only for customers who grant it."""
    field("diet", purpose=segment_purposes["newsletter"])
    granting = segment_customer(newsletter=True)
    not_granting = segment_customer()
    profile(granting, diet="vegan")
    profile(not_granting, diet="vegan")
    condition = {"type": "profile", "field": "diet", "op": "equals", "value": "vegan"}
    assert members([condition]) == {granting.pk}


def test_best_hour_condition(segment_customer):
    """Any of the customer's best hours in the list, whatever its rank."""
    evening, morning, unknown = (segment_customer() for _ in range(3))
    Insight.objects.create(user=evening, best_hours=[19, 20, 12])
    Insight.objects.create(user=morning, best_hours=[8, 9, 10])
    Insight.objects.create(user=unknown, best_hours=[])
    assert members([{"type": "best_hour", "hours": [12]}]) == {evening.pk}
    assert members([{"type": "best_hour", "hours": [9, 23]}]) == {morning.pk}
    assert members([{"type": "best_hour", "hours": [0]}]) == set()


def test_every_condition_must_hold(segment_customer):
    """Conditions combine with AND."""
    both, only_interest = segment_customer(), segment_customer()
    for user in (both, only_interest):
        Interest.objects.create(user=user, kind="category", key="Shoes", score=0.7)
    Insight.objects.create(user=both, best_hours=[18])
    Insight.objects.create(user=only_interest, best_hours=[9])
    conditions = [
        {"type": "interest", "kind": "category", "name": "shoes"},
        {"type": "best_hour", "hours": [18, 19]},
    ]
    assert members(conditions) == {both.pk}


# --- Consent ------------------------------------------------------------------------------


def test_customers_without_personalization_consent_are_never_members(
    segment_customer, segment_purposes
):
    """A customer who never granted personalization, or withdrew it, is no member, not
    even of a segment without conditions; other purposes granted do not count."""
    granting = segment_customer()
    never = segment_customer(personalization=False, newsletter=True)
    withdrawn = segment_customer(personalization="withdrawn")
    for user in (granting, never, withdrawn):
        Interest.objects.create(user=user, kind="brand", key="Acme", score=1.0)
        Insight.objects.create(user=user, best_hours=[18], engaged_at=timezone.now())
    assert members([]) == {granting.pk}
    assert members([{"type": "interest", "kind": "brand", "name": "Acme"}]) == {granting.pk}
    assert members([{"type": "consent", "purpose": "newsletter"}]) == set()


def test_no_personalization_purpose_no_members(db):
    """Without an active purpose of kind personalization nobody can be a member."""
    other = make_purpose("analytics", kind=PurposeKind.ANALYTICS)
    assert Purpose.objects.filter(pk=other.pk).exists()
    assert members([]) == set()


def test_membership_is_one_query_whatever_the_number_of_customers(segment_customer):
    """The members come from one query: more customers, no more queries."""
    field("city")

    def queries() -> int:
        segment = Segment(
            key="probe",
            name_en="Probe",
            conditions=[
                {"type": "engaged_within_days", "days": 30},
                {"type": "profile", "field": "city", "op": "set"},
            ],
        )
        query = segment_members(segment)  # the parse reads the purposes and fields
        with CaptureQueriesContext(connection) as captured:
            list(query)
        return len(captured)

    def add(count: int) -> None:
        for _ in range(count):
            user = segment_customer()
            profile(user, city="Recife")
            Insight.objects.create(user=user, engaged_at=timezone.now())

    add(2)
    few = queries()
    add(8)
    assert queries() == few
    assert few <= 2


# --- Malformed conditions -----------------------------------------------------------------


ENGAGED = {"type": "engaged_within_days", "days": 30}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "engaged_within_days", "days": 30}, "JSON list"),
        ("[]", "JSON list"),
        (None, "JSON list"),
        ([ENGAGED] * (MAX_CONDITIONS + 1), f"at most {MAX_CONDITIONS} conditions"),
        ([ENGAGED, "engaged"], "Condition 2 is not a JSON object"),
        ([{"days": 30}], "Condition 1: unknown type “”"),
        ([{"type": "age", "min": 18}], "unknown type “age”"),
        ([{"type": "interest", "kind": "brand"}], "“name” is missing"),
        ([{**ENGAGED, "weeks": 2}], "unknown key “weeks”"),
        ([{"type": "interest", "kind": "colour", "name": "Red"}], "“kind” is “brand” or"),
        ([{"type": "interest", "kind": "brand", "name": "  "}], "“name” is the name"),
        ([{"type": "interest", "kind": "brand", "name": 7}], "“name” is the name"),
        ([{"type": "interest", "kind": "brand", "name": "A" * 201}], "at most 200"),
        ([{"type": "interest", "kind": "brand", "name": "A", "min_score": 2}], "from 0 to 1"),
        ([{"type": "interest", "kind": "brand", "name": "A", "min_score": "hi"}], "0 to 1"),
        ([{"type": "interest", "kind": "brand", "name": "A", "min_score": True}], "0 to 1"),
        ([{"type": "engaged_within_days", "days": 0}], "from 1 to 3650"),
        ([{"type": "engaged_within_days", "days": 3651}], "from 1 to 3650"),
        ([{"type": "engaged_within_days", "days": "30"}], "from 1 to 3650"),
        ([{"type": "engaged_within_days", "days": 1.5}], "from 1 to 3650"),
        ([{"type": "engaged_within_days", "days": True}], "from 1 to 3650"),
        ([{"type": "consent", "purpose": "nope"}], "no consent purpose has the key “nope”"),
        ([{"type": "consent"}], "“purpose” is missing"),
        ([{"type": "profile", "field": "nope", "op": "set"}], "no profile field has the key"),
        ([{"type": "profile", "field": "city", "op": "like", "value": "R"}], "“op” is “set”"),
        ([{"type": "profile", "field": "city", "op": "set", "value": "R"}], "unknown key"),
        ([{"type": "profile", "field": "city", "op": "equals"}], "“value” is missing"),
        ([{"type": "profile", "field": "city", "op": "equals", "value": ["R"]}], "one text"),
        ([{"type": "profile", "field": "city", "op": "in", "value": []}], "a list of 1 to"),
        ([{"type": "profile", "field": "city", "op": "in", "value": "Recife"}], "a list of"),
        ([{"type": "profile", "field": "city", "op": "equals", "value": " "}], "is empty"),
        ([{"type": "profile", "field": "plan", "op": "equals", "value": "gold"}], "choices"),
        ([{"type": "profile", "field": "home", "op": "equals", "value": "x"}], "address"),
        ([{"type": "profile", "field": "kids", "op": "equals", "value": "many"}], "“kids”"),
        ([{"type": "best_hour", "hours": [24]}], "from 0 to 23"),
        ([{"type": "best_hour", "hours": []}], "from 0 to 23"),
        ([{"type": "best_hour", "hours": "18"}], "from 0 to 23"),
        ([{"type": "best_hour", "hours": [True]}], "from 0 to 23"),
        ([ENGAGED, {"type": "best_hour"}], "Condition 2 (best_hour): “hours” is missing"),
    ],
)
def test_malformed_conditions_are_refused_clearly(segment_purposes, value, message):
    """Anything malformed raises SegmentError, its message naming the fault."""
    field("city")
    field("kids", FieldType.NUMBER)
    field("home", FieldType.ADDRESS)
    field("plan", FieldType.MULTI_CHOICE, choices=[{"value": "silver", "label_en": "Silver"}])
    with pytest.raises(SegmentError) as raised:
        segment_conditions_parse(value)
    assert message in raised.value.message


def test_valid_conditions_are_normalised(segment_purposes):
    """Names are trimmed, hours sorted once each, the default score written out."""
    parsed = segment_conditions_parse(
        [
            {"type": "interest", "kind": "brand", "name": "  Acme   Co "},
            {"type": "best_hour", "hours": [20, 18, 20]},
            {"type": "consent", "purpose": "newsletter"},
        ]
    )
    assert segment_conditions_json(parsed) == [
        {"type": "interest", "kind": "brand", "name": "Acme Co", "min_score": 0.0},
        {"type": "best_hour", "hours": [18, 20]},
        {"type": "consent", "purpose": "newsletter"},
    ]
    assert segment_conditions_parse([]) == []


# --- Recomputing --------------------------------------------------------------------------


@pytest.fixture
def acme_fans(segment_customer) -> Segment:
    return Segment.objects.create(
        key="acme-fans",
        name_en="Acme fans",
        conditions=[{"type": "interest", "kind": "brand", "name": "Acme", "min_score": 0.5}],
    )


def fan(segment_customer: Any, score: float = 0.9) -> Any:
    user = segment_customer()
    Interest.objects.create(user=user, kind="brand", key="Acme", score=score)
    insight_refresh(user=user, emit=False)
    return user


def test_recompute_writes_members_events_and_insights(segment_customer, acme_fans):
    """Customers who meet the conditions enter: a membership each, the count, the time, the
    insight's segments, and a ``segment.entered`` event requiring the personalization
    purpose."""
    first, second = fan(segment_customer), fan(segment_customer)
    fan(segment_customer, score=0.2)
    assert segments_recompute() == {"acme-fans": (2, 0)}
    acme_fans.refresh_from_db()
    assert acme_fans.members == 2
    assert acme_fans.computed_at is not None
    assert set(acme_fans.memberships.values_list("user_id", flat=True)) == {first.pk, second.pk}
    assert Insight.objects.get(user=first).segments == ["acme-fans"]
    events = segment_events()
    assert [event.type for event in events] == ["segment.entered", "segment.entered"]
    assert {event.user_id for event in events} == {first.pk, second.pk}
    for event in events:
        assert event.data == {
            "_requires": {"purpose": "personalization"},
            "segment": {"_tag": {"purpose": "personalization"}, "value": "acme-fans"},
        }
        assert event.subject == event.user.public_id


def test_recompute_is_idempotent(segment_customer, acme_fans):
    """A second recompute with nothing changed changes nothing and emits nothing."""
    fan(segment_customer)
    segments_recompute()
    count = OutboxEvent.objects.count()
    assert segments_recompute() == {"acme-fans": (0, 0)}
    assert OutboxEvent.objects.count() == count
    assert SegmentMembership.objects.count() == 1


def test_customers_who_stop_meeting_the_conditions_leave(segment_customer, acme_fans):
    """A member whose interest is removed leaves: membership gone, insight updated, a
    ``segment.left`` event under the purpose."""
    user = fan(segment_customer)
    segments_recompute()
    Interest.objects.filter(user=user).update(hidden=True)
    assert segments_recompute() == {"acme-fans": (0, 1)}
    assert not SegmentMembership.objects.exists()
    assert Insight.objects.get(user=user).segments == []
    (left,) = segment_events("segment.left")
    assert left.user_id == user.pk
    assert left.data == {
        "_requires": {"purpose": "personalization"},
        "segment": {"_tag": {"purpose": "personalization"}, "value": "acme-fans"},
    }
    acme_fans.refresh_from_db()
    assert acme_fans.members == 0


def test_members_without_consent_leave_without_an_event(segment_customer, acme_fans):
    """A member who grants no personalization purpose leaves, and no event says so (it
    would need the purpose they do not grant)."""
    stale = segment_customer(personalization=False)
    SegmentMembership.objects.create(segment=acme_fans, user=stale)
    assert segments_recompute() == {"acme-fans": (0, 1)}
    assert not SegmentMembership.objects.exists()
    assert segment_events() == []


def test_recompute_for_some_customers_only(segment_customer, acme_fans):
    """``users=`` checks only those customers: the others keep their state."""
    first, second = fan(segment_customer), fan(segment_customer)
    assert segments_recompute(users=[first]) == {"acme-fans": (1, 0)}
    assert list(SegmentMembership.objects.values_list("user_id", flat=True)) == [first.pk]
    assert segments_recompute(users=[second.pk]) == {"acme-fans": (1, 0)}
    assert segments_recompute(users=[]) == {"acme-fans": (0, 0)}
    acme_fans.refresh_from_db()
    assert acme_fans.members == 2


def test_recompute_of_chosen_segments(segment_customer, acme_fans):
    """``segments=`` recomputes only those (rows or keys)."""
    Segment.objects.create(key="everyone", name_en="Everyone", conditions=[])
    fan(segment_customer)
    assert segments_recompute(segments=["everyone"]) == {"everyone": (1, 0)}
    assert segments_recompute(segments=[acme_fans]) == {"acme-fans": (1, 0)}


def test_an_inactive_segment_has_no_members(segment_customer, acme_fans):
    """Deactivating a segment: its members leave at the next recompute."""
    user = fan(segment_customer)
    segments_recompute()
    Segment.objects.filter(pk=acme_fans.pk).update(active=False)
    assert segments_recompute() == {"acme-fans": (0, 1)}
    assert Insight.objects.get(user=user).segments == []


def test_conditions_that_no_longer_check_give_no_members(segment_customer, segment_purposes):
    """A segment naming a deleted profile field has no members (and the others go on)."""
    city = field("city")
    user = segment_customer()
    profile(user, city="Recife")
    Segment.objects.create(
        key="recife",
        name_en="Recife",
        conditions=[{"type": "profile", "field": "city", "op": "equals", "value": "Recife"}],
    )
    Segment.objects.create(key="everyone", name_en="Everyone", conditions=[])
    assert segments_recompute() == {"everyone": (1, 0), "recife": (1, 0)}
    city.delete()
    assert segments_recompute() == {"everyone": (0, 0), "recife": (0, 1)}


def test_a_member_without_an_insight_gets_one(segment_customer, segment_purposes):
    """A customer who enters a segment before any training has an insight listing it;
    a segment over a consent decision is a membership relying parties do not see (not in
    the insight, so neither in the claims nor the API)."""
    user = segment_customer(newsletter=True)
    Segment.objects.create(key="everyone", name_en="Everyone", conditions=[])
    Segment.objects.create(
        key="newsletter",
        name_en="Newsletter",
        conditions=[{"type": "consent", "purpose": "newsletter"}],
    )
    segments_recompute()
    assert Insight.objects.get(user=user).segments == ["everyone"]
    assert SegmentMembership.objects.filter(user=user, segment__key="newsletter").exists()


def test_a_full_recompute_repairs_insights(segment_customer, acme_fans):
    """An insight whose segments differ from the memberships is corrected by a full run."""
    user = fan(segment_customer)
    segments_recompute()
    Insight.objects.filter(user=user).update(segments=[])
    assert segments_recompute() == {"acme-fans": (0, 0)}
    assert Insight.objects.get(user=user).segments == ["acme-fans"]


def test_deleting_a_segment_lets_its_members_leave(segment_customer, acme_fans):
    """The members get a ``segment.left`` event and their insights lose the segment."""
    user = fan(segment_customer)
    segments_recompute()
    assert segment_delete(segment=acme_fans) == 1
    assert not Segment.objects.exists()
    assert Insight.objects.get(user=user).segments == []
    assert [event.type for event in segment_events()] == ["segment.entered", "segment.left"]
