"""Segment membership: who meets each segment's conditions now (personalization/segments.py),
written as ``SegmentMembership`` rows and in the customers' insights, with ``segment.entered``
and ``segment.left`` events for the changes.

``manage.py personalization_train`` recomputes every segment (full runs) or only the
customers with new activity (incremental runs); operators recompute one segment from the
console. An inactive segment, or one whose conditions no longer check (a purpose or profile
field they name was deleted), has no members: its members leave.

Each event needs a personalization purpose the customer grants (``_requires``): a receiver
sees it only under that purpose. A member who no longer grants any leaves without an event,
as when the withdrawal itself deletes their derived data (services/forget.py): receivers
learn of the withdrawal from the consent event.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from ..models import Insight, Segment, SegmentMembership
from ..segments import Condition, SegmentError, members_query, segment_conditions_parse
from .insight import insight_refresh

logger = logging.getLogger(__name__)
BATCH = 500

_T = TypeVar("_T")


def _chunks(values: list[_T], size: int = BATCH) -> Iterator[list[_T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _user_id(user: Any) -> int:
    return int(getattr(user, "pk", user))


def _segments_chosen(segments: Iterable[Any] | None) -> list[Segment]:
    queryset = Segment.objects.order_by("key")
    if segments is None:
        return list(queryset)
    chosen = list(segments)
    keys = [item for item in chosen if isinstance(item, str)]
    pks = [item.pk for item in chosen if not isinstance(item, str)]
    return list(queryset.filter(key__in=keys) | queryset.filter(pk__in=pks))


def _purposes_of(user_ids: list[int]) -> dict[int, str]:
    """User id -> the first (by key) personalization purpose they grant now; customers who
    grant none are left out."""
    from .training import consenting_customers

    found: dict[int, str] = {}
    for chunk in _chunks(user_ids):
        consenting = consenting_customers(user_ids=chunk)
        found.update(
            {user_id: consenting.first_purpose(user_id) for user_id in consenting.purposes}
        )
    return found


def _events(*, key: str, entered: list[int], left: list[int]) -> None:
    """``segment.entered`` / ``segment.left`` for each customer, under a purpose they grant."""
    from events.services.outbox import event_emit_many
    from events.tags import requires, tagged

    changes = [("segment.entered", user_id) for user_id in entered]
    changes += [("segment.left", user_id) for user_id in left]
    purposes = _purposes_of([user_id for _type, user_id in changes])
    changes = [(type_, user_id) for type_, user_id in changes if user_id in purposes]
    for chunk in _chunks(changes):
        users = {
            user.pk: user
            for user in get_user_model()
            .objects.filter(pk__in=[user_id for _type, user_id in chunk])
            .only("pk", "public_id")
        }
        event_emit_many(
            items=[
                {
                    "type": type_,
                    "user": users.get(user_id),
                    "data": {
                        "_requires": requires(purpose=purposes[user_id]),
                        "segment": tagged(key, purpose=purposes[user_id]),
                    },
                }
                for type_, user_id in chunk
            ]
        )


def insight_segments_write(*, user_ids: Iterable[int]) -> int:
    """Write the segments of these customers' insights from their memberships of active
    segments (what ``insight_refresh`` computes), in bulk; a member without an insight gets
    one. Call it in the transaction that changed the memberships. How many insights
    changed."""
    changed = 0
    # Only the segments relying parties may see go into insights (``Segment.shared``).
    shared = {segment.key for segment in Segment.objects.filter(active=True) if segment.shared}
    for chunk in _chunks(sorted(set(user_ids))):
        # Locked in id order before the memberships are read: recomputes of two segments
        # sharing customers take turns, the second seeing the first one's memberships.
        stored = dict(
            Insight.objects.select_for_update()
            .filter(user_id__in=chunk)
            .order_by("user_id")
            .values_list("user_id", "segments")
        )
        keys: dict[int, list[str]] = defaultdict(list)
        for user_id, key in SegmentMembership.objects.filter(
            user_id__in=chunk, segment__active=True
        ).values_list("user_id", "segment__key"):
            if key in shared:
                keys[user_id].append(key)
        # One UPDATE per distinct list (customers share a few combinations of segments).
        stale: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for user_id, segments in stored.items():
            wanted = sorted(keys.get(user_id, []))
            if segments != wanted:
                stale[tuple(wanted)].append(user_id)
        for combination, ids in stale.items():
            changed += Insight.objects.filter(user_id__in=ids).update(segments=list(combination))
        missing = sorted(set(keys) - set(stored))
        for user in get_user_model().objects.filter(pk__in=missing):
            insight_refresh(user=user, emit=False)
            changed += 1
    return changed


def _conditions(segment: Segment) -> list[Condition] | None:
    """``segment``'s conditions, or None: nobody can be a member."""
    if not segment.active:
        return None
    try:
        return segment_conditions_parse(segment.conditions)
    except SegmentError as error:
        logger.warning("segment %s has no members: %s", segment.key, error.message)
        return None


@transaction.atomic
def _segment_recompute(segment_pk: int, user_ids: list[int] | None) -> tuple[str, int, int]:
    segment = Segment.objects.select_for_update().get(pk=segment_pk)
    now = timezone.now()
    conditions = _conditions(segment)
    entered: list[int] = []
    left: list[int] = []
    scopes: Iterable[list[int] | None] = [None] if user_ids is None else _chunks(user_ids)
    for scope in scopes:
        current_query = SegmentMembership.objects.filter(segment=segment)
        if scope is not None:
            current_query = current_query.filter(user_id__in=scope)
        current = set(current_query.values_list("user_id", flat=True))
        wanted: set[int] = set()
        if conditions is not None:
            wanted = set(members_query(conditions, now=now, among=scope))
        entered.extend(sorted(wanted - current))
        left.extend(sorted(current - wanted))
    entered = _still_consenting(entered)
    SegmentMembership.objects.bulk_create(
        (SegmentMembership(segment=segment, user_id=user_id, since=now) for user_id in entered),
        batch_size=BATCH,
    )
    for chunk in _chunks(left):
        SegmentMembership.objects.filter(segment=segment, user_id__in=chunk).delete()
    segment.members = SegmentMembership.objects.filter(segment=segment).count()
    fields = ["members"]
    if user_ids is None:  # every customer was checked
        segment.computed_at = now
        fields.append("computed_at")
    segment.save(update_fields=fields)
    insight_segments_write(user_ids=[*entered, *left])
    _events(key=segment.key, entered=entered, left=left)
    return segment.key, len(entered), len(left)


def _still_consenting(user_ids: list[int]) -> list[int]:
    """Of ``user_ids``, the customers who grant a personalization purpose now, their rows
    locked as the ledger locks them to record a decision: a withdrawal committed while the
    members were computed wins, and one being recorded waits for this transaction (whose
    memberships its receiver then deletes)."""
    from .training import consenting_customers

    kept: list[int] = []
    for chunk in _chunks(user_ids):
        locked = list(
            get_user_model()
            .objects.select_for_update()
            .filter(pk__in=chunk)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        granting = consenting_customers(user_ids=locked).purposes
        kept.extend(user_id for user_id in chunk if user_id in granting)
    return kept


def _insights_repair() -> int:
    """Every insight's segments checked against the memberships (after a full recompute:
    an insight written by training without its segments is corrected)."""
    changed = 0
    ids = list(Insight.objects.order_by("user_id").values_list("user_id", flat=True))
    ids += list(
        SegmentMembership.objects.filter(
            segment__active=True, user__insight__isnull=True
        ).values_list("user_id", flat=True)
    )
    for chunk in _chunks(sorted(set(ids))):
        with transaction.atomic():
            changed += insight_segments_write(user_ids=chunk)
    return changed


def segments_recompute(
    *, segments: Iterable[Any] | None = None, users: Iterable[Any] | None = None
) -> dict[str, tuple[int, int]]:
    """Recompute the members of ``segments`` (Segment rows or keys; all of them by default)
    among ``users`` (users or ids; every customer by default): memberships added and
    removed, each segment's count, the changed customers' insights, and one
    ``segment.entered`` / ``segment.left`` event per change. One transaction per segment.
    Segment key -> (customers who entered, customers who left)."""
    user_ids = None if users is None else sorted({_user_id(user) for user in users})
    result: dict[str, tuple[int, int]] = {}
    for segment in _segments_chosen(segments):
        if user_ids is not None and not user_ids:
            result[segment.key] = (0, 0)
            continue
        key, entered, left = _segment_recompute(segment.pk, user_ids)
        result[key] = (entered, left)
    if segments is None and users is None:
        _insights_repair()
    return result


@transaction.atomic
def segment_delete(*, segment: Segment) -> int:
    """Delete ``segment``: its members leave it (their insights and ``segment.left``
    events), then the row goes. How many members it had."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    key = segment.key
    members = sorted(
        SegmentMembership.objects.filter(segment=segment).values_list("user_id", flat=True)
    )
    segment.delete()
    insight_segments_write(user_ids=members)
    _events(key=key, entered=[], left=members)
    return len(members)
