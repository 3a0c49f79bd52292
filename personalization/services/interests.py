"""The customer's own hand on their interests (portal, zero-party data): add one, remove
one (inference never brings it back), each recorded in the audit log's outbox event."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import KEY_MAX_LENGTH, Interest, InterestKind, InterestSource
from .consent import personalization_allowed
from .insight import insight_refresh


class InterestError(ValueError):
    """An interest cannot be changed: personalization is off, or the name is not usable."""


def interest_key_clean(value: Any) -> str:
    """The interest's name as stored: trimmed, inner whitespace collapsed; refused when
    empty, too long or holding control characters."""
    if not isinstance(value, str):
        raise InterestError("Name the interest.")
    key = " ".join(value.split())
    if not key:
        raise InterestError("Name the interest.")
    if len(key) > KEY_MAX_LENGTH:
        raise InterestError(f"At most {KEY_MAX_LENGTH} characters.")
    if any(ord(char) < 32 or 0xD800 <= ord(char) <= 0xDFFF for char in key):
        raise InterestError("The name holds characters that cannot be stored.")
    return key


def _lock(user: Any) -> None:
    """The customer's row, locked as the ledger and training lock it: one change at a time."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()


def _kind(value: Any) -> str:
    if value not in InterestKind.values:
        raise InterestError("Choose a category or a brand.")
    return str(value)


def _after_change(user: Any) -> None:
    """The customer's segments follow their interests at once; then their insight."""
    from .segments import segments_recompute

    segments_recompute(users=[user])
    insight_refresh(user=user)


@transaction.atomic
def interest_add(*, user: Any, kind: Any, key: Any) -> Interest:
    """``user`` says they like ``key`` (a category or brand): stored as their own, score 1,
    shared before inferred interests; an earlier removal of the same interest is undone."""
    kind = _kind(kind)
    key = interest_key_clean(key)
    _lock(user)
    if not personalization_allowed(user=user):
        raise InterestError("Personalization is off.")
    existing = Interest.objects.filter(user=user, kind=kind, key__iexact=key).first()
    interest = existing or Interest(user=user, kind=kind, key=key)
    interest.source = InterestSource.CUSTOMER
    interest.score = 1.0
    interest.hidden = False
    interest.updated_at = timezone.now()
    interest.save()
    _after_change(user)
    return interest


@transaction.atomic
def interest_remove(*, user: Any, interest_id: int) -> Interest | None:
    """``user`` removes one of their interests: kept as removed (``hidden``) so that the
    next training run does not infer it again. None when it is not theirs."""
    _lock(user)
    interest = Interest.objects.select_for_update().filter(user=user, pk=interest_id).first()
    if interest is None:
        return None
    interest.hidden = True
    interest.updated_at = timezone.now()
    interest.save(update_fields=["hidden", "updated_at"])
    _after_change(user)
    return interest
