"""The precomputed insight of one customer (``Insight``): what the ``interests`` claims and
the back-end API release, rebuilt from the customer's interests and segments whenever either
changes, so that token issuance reads one row."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ..app_settings import app_settings
from ..models import Insight, Interest, InterestSource, SegmentMembership


def shared_interests(rows: list[Interest]) -> list[dict[str, Any]]:
    """The interests a customer shares, best first: those they did not remove, those they
    added themselves before inferred ones of the same score (zero-party data wins)."""
    visible = [row for row in rows if not row.hidden]
    visible.sort(key=lambda row: (-row.score, row.source != InterestSource.CUSTOMER, row.key))
    return [
        {
            "kind": row.kind,
            "name": row.key,
            "score": round(float(row.score), 3),
            "source": "declared" if row.source == InterestSource.CUSTOMER else "inferred",
        }
        for row in visible[: app_settings.INTERESTS_SHARED]
    ]


def interests_differ(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> bool:
    """Whether the shared interests changed for a receiver: an interest came or went, or
    changed its source. Scores alone do not count: they decay a little with every day, and
    an event for each would be noise."""

    def names(entries: list[dict[str, Any]]) -> set[tuple[Any, Any, Any]]:
        return {(entry.get("kind"), entry.get("name"), entry.get("source")) for entry in entries}

    return names(before) != names(after)


def _purpose_key(user: Any) -> str:
    from .consent import personalization_granted

    granted = personalization_granted(user=user)
    return granted[0] if granted else "personalization"


@transaction.atomic
def insight_refresh(*, user: Any, emit: bool = True, **computed: Any) -> Insight:
    """Rebuild ``user``'s insight from their interests and segment memberships; ``computed``
    sets the fields a training run computed (recommendations, best hours, ...). Emits
    ``personalization.interests_changed`` when the shared interests changed."""
    from events.services.outbox import event_emit
    from events.tags import requires, tagged

    insight = Insight.objects.select_for_update().filter(user=user).first()
    previous = list(insight.interests) if insight is not None else []
    if insight is None:
        insight = Insight(user=user)
    insight.interests = shared_interests(list(Interest.objects.filter(user=user)))
    insight.segments = sorted(
        membership.segment.key
        for membership in SegmentMembership.objects.filter(
            user=user, segment__active=True
        ).select_related("segment")
        if membership.segment.shared
    )
    for name, value in computed.items():
        setattr(insight, name, value)
    insight.computed_at = timezone.now()
    insight.save()
    if emit and interests_differ(previous, insight.interests):
        purpose = _purpose_key(user)
        event_emit(
            type="personalization.interests_changed",
            user=user,
            data={
                "_requires": requires(purpose=purpose),
                "interests": tagged(insight.interests, purpose=purpose),
            },
        )
    return insight
