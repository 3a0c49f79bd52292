"""Retention of interactions: nothing is kept longer than CIAM_INTERACTIONS_RETENTION_DAYS.

Erasure needs nothing here: ``Interaction.user`` and ``AnonymousLink.user`` cascade when
accounts.privacy's ``account_erase`` deletes the user row, in its transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..app_settings import app_settings
from ..models import AnonymousLink, Interaction

PRUNE_BATCH = 5000


def interactions_prune(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH) -> int:
    """Delete the interactions that occurred before the retention period, in batches of
    ``batch_size`` (short transactions), and the anonymous-id links older than it that no
    interaction uses any more. Returns how many interactions were deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=app_settings.RETENTION_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                Interaction.objects.filter(occurred_at__lt=cutoff).values_list("pk", flat=True)[
                    :batch_size
                ]
            )
            if not ids:
                break
            deleted += Interaction.objects.filter(pk__in=ids).delete()[0]
    used = Interaction.objects.filter(
        client_id=OuterRef("client_id"), anonymous_id=OuterRef("anonymous_id")
    )
    AnonymousLink.objects.filter(linked_at__lt=cutoff).exclude(Exists(used)).delete()
    return deleted
