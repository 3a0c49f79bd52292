"""Recording consent."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Consent


@transaction.atomic
def consent_grant(*, user: Any, application: Any, scopes: list[str], claims: list[str]) -> Consent:
    """Record that ``user`` lets ``application`` receive ``scopes`` and ``claims``.

    What was granted before is kept: consent only grows until it is revoked.
    """
    consent, created = Consent.objects.select_for_update().get_or_create(
        user=user,
        application=application,
        defaults={
            "scopes": sorted(set(scopes)),
            "claims": sorted(set(claims)),
            "granted_at": timezone.now(),
        },
    )
    if not created:
        previous_scopes = set() if consent.revoked_at else set(consent.scopes)
        previous_claims = set() if consent.revoked_at else set(consent.claims)
        consent.scopes = sorted(previous_scopes | set(scopes))
        consent.claims = sorted(previous_claims | set(claims))
        consent.granted_at = timezone.now()
        consent.revoked_at = None
        consent.save(update_fields=["scopes", "claims", "granted_at", "revoked_at"])
    return consent
