"""Withdrawing personalization deletes what was derived at once (LGPD art. 18 VI, GDPR art.
17(1)(b)): interests (the customer's own too: they were given for this purpose), the insight
and the segment memberships. No segment event follows: every such event needs the purpose
just withdrawn, and receivers learn of the withdrawal from the consent event itself."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from ..models import Insight, Interest, Segment, SegmentMembership


@transaction.atomic
def personalization_forget(*, user: Any) -> int:
    """Delete every row derived for ``user`` (the segments' member counts follow); the
    number of rows deleted."""
    segment_ids = list(
        SegmentMembership.objects.filter(user=user).values_list("segment_id", flat=True)
    )
    deleted = Interest.objects.filter(user=user).delete()[0]
    deleted += Insight.objects.filter(user=user).delete()[0]
    deleted += SegmentMembership.objects.filter(user=user).delete()[0]
    if segment_ids:
        # After the ledger's transaction: a withdrawal never waits on (or deadlocks with) a
        # segment recompute holding the segment rows.
        transaction.on_commit(
            lambda: Segment.objects.filter(pk__in=segment_ids, members__gt=0).update(
                members=F("members") - 1
            ),
            robust=True,
        )
    _events_scrub(user)
    return deleted


# Events that carry derived data (tagged): what a replay or a new subscription's backfill
# would send after a new grant.
DERIVED_EVENT_TYPES = ("personalization.interests_changed", "segment.entered", "segment.left")


def _events_scrub(user: Any) -> None:
    """The customer's earlier events keep their facts (something changed, a segment was
    entered) and lose the derived values."""
    from events.models import OutboxEvent
    from events.tags import without_tagged

    for event in OutboxEvent.objects.filter(user=user, type__in=DERIVED_EVENT_TYPES).only(
        "pk", "data"
    ):
        data = without_tagged(event.data or {})
        if data != event.data:
            OutboxEvent.objects.filter(pk=event.pk).update(data=data)
