"""Whether personalization may run for a customer: a granted purpose of kind
``personalization`` in the consent ledger (for one client: among the purposes it may see),
and the switch the customer turns in the portal (a grant or withdrawal in that ledger)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from consent.models import ConsentChannel, Purpose, PurposeKind
from consent.selectors import purposes_current, purposes_granted


def personalization_purposes() -> list[Purpose]:
    """The active purposes of kind ``personalization``."""
    return list(Purpose.objects.filter(active=True, kind=PurposeKind.PERSONALIZATION))


def personalization_granted(*, user: Any, application: Any | None = None) -> list[str]:
    """Keys of the personalization purposes ``user`` grants now (to ``application``, when
    given: only the purposes linked to that client or required for all). Two queries."""
    if user is None or getattr(user, "pk", None) is None:
        return []
    purposes = {purpose.pk: purpose.key for purpose in personalization_purposes()}
    granted = purposes_granted(user=user, purpose_ids=set(purposes), application=application)
    return sorted(purposes[pk] for pk in granted)


def personalization_allowed(*, user: Any, application: Any | None = None) -> bool:
    return bool(personalization_granted(user=user, application=application))


@transaction.atomic
def personalization_switch(*, user: Any, on: bool, request: HttpRequest | None = None) -> int:
    """The customer turns personalization on (a grant of the current version of every
    personalization purpose) or off (a withdrawal of each granted one; the ledger's
    ``purpose_consent_changed`` then deletes the derived data). Returns the records written."""
    from consent.services.ledger import purpose_withdraw, purposes_decide

    if on:
        versions = [
            version
            for version in purposes_current()
            if version.purpose.kind == PurposeKind.PERSONALIZATION
        ]
        granted = set(personalization_granted(user=user))
        versions = [version for version in versions if version.purpose.key not in granted]
        if not versions:
            return 0
        return len(
            purposes_decide(
                user=user,
                application=None,
                granted=versions,
                declined=[],
                channel=ConsentChannel.PORTAL,
                request=request,
            )
        )
    written = 0
    for purpose in personalization_purposes():
        if purpose_withdraw(
            user=user, purpose=purpose, channel=ConsentChannel.PORTAL, request=request
        ):
            written += 1
    return written
