"""Fixtures of the portal's "Interests" page tests: the personalization purpose, a customer
who granted it with what a training run leaves (interests with their evidence, a removed one,
a contact window, a segment), imported by the test modules that use them."""

from __future__ import annotations

from typing import Any

import pytest

from consent.models import ConsentAction, ConsentChannel, Purpose, PurposeKind
from consent.services.ledger import consent_record
from personalization.models import Interest, InterestSource, Segment, SegmentMembership
from personalization.services.insight import insight_refresh
from tests.consent.purposes_helpers import make_purpose
from tests.factories import UserFactory

LAST_AT = "2026-11-30T18:02:00+00:00"


@pytest.fixture
def interests_purpose(db) -> Purpose:
    """The personalization purpose, with a published version."""
    return make_purpose("personalization", kind=PurposeKind.PERSONALIZATION)


def personalization_grant(user: Any, purpose: Purpose) -> None:
    consent_record(
        user=user,
        version=purpose.current_version(),
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.PORTAL,
    )


def derive_for(user: Any, *, from_population: bool = False) -> dict[str, Interest]:
    """What a training run leaves for ``user``: an often bought brand, a category seen
    five times, one liked by similar customers, one the customer removed; a window on
    Tuesday and Thursday evenings; one segment."""
    rows = {
        "Acme": Interest.objects.create(
            user=user,
            kind="brand",
            key="Acme",
            score=0.9,
            evidence={"purchase": 3, "page_view": 2, "last_at": LAST_AT},
        ),
        "Shoes": Interest.objects.create(
            user=user, kind="category", key="Shoes", score=0.6, evidence={"page_view": 5}
        ),
        "Garden": Interest.objects.create(
            user=user,
            kind="category",
            key="Garden",
            score=0.3,
            evidence={"similar_customers": 12},
        ),
        "Globex": Interest.objects.create(
            user=user,
            kind="brand",
            key="Globex",
            score=0.5,
            hidden=True,
            evidence={"page_view": 1},
        ),
    }
    segment, _created = Segment.objects.get_or_create(
        key="acme-fans", defaults={"name_en": "Acme fans", "conditions": []}
    )
    SegmentMembership.objects.create(segment=segment, user=user)
    insight_refresh(
        user=user,
        best_hours=[19],
        best_weekdays=[4, 2],
        time_zone="America/Sao_Paulo",
        window_from_prior=from_population,
    )
    return rows


@pytest.fixture
def interests_customer(interests_purpose) -> Any:
    """A customer who granted personalization, with derived interests and a window."""
    user = UserFactory()
    personalization_grant(user, interests_purpose)
    derive_for(user)
    return user


def declared(user: Any, kind: str, key: str) -> Interest:
    return Interest.objects.create(
        user=user, kind=kind, key=key, score=1.0, source=InterestSource.CUSTOMER
    )
