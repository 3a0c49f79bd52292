"""The ``interests`` claims: what a relying party may know of a customer's tastes.

Listed in ``CIAM_CLAIM_PROVIDERS``; ciam/oauth/claim_sources.py calls ``interests_claim``
for ID tokens and UserInfo when the ``interests`` scope was granted, or one of its claims was
asked for one by one (``claims`` parameter). Released only while the customer grants a
personalization purpose this client may see; the values come precomputed from the
customer's ``Insight`` row (one read by primary key), so token issuance does no model work.
"""

from __future__ import annotations

import threading
from typing import Any

from ciam.oauth.prepared import PreparedLookup

from .models import Insight
from .services.consent import (
    client_personalization_purpose_ids,
    granted_among,
    personalization_allowed,
)

INTERESTS_SCOPE = "interests"


def insight_claims(insight: Insight | None) -> dict[str, Any]:
    """The three claims of ``insight`` (empty values when nothing was computed yet)."""
    if insight is None:
        return {"interests": [], "segments": []}
    claims: dict[str, Any] = {
        "interests": list(insight.interests),
        "segments": list(insight.segments),
    }
    if insight.best_hours:
        claims["best_contact_window"] = {
            "hours": list(insight.best_hours),
            "weekdays": list(insight.best_weekdays),
            "time_zone": insight.time_zone,
            "from_population": insight.window_from_prior,
        }
    return claims


# Purpose ids -> the insight lookup with that consent check, compiled once per connection.
_lookups: dict[frozenset[int], PreparedLookup] = {}
_lookups_lock = threading.Lock()


def _insight_lookup(purpose_ids: frozenset[int]) -> PreparedLookup:
    lookup = _lookups.get(purpose_ids)
    if lookup is None:
        with _lookups_lock:
            lookup = _lookups.setdefault(
                purpose_ids,
                PreparedLookup(
                    lambda user_id: Insight.objects.filter(user_id=user_id).annotate(
                        allowed=granted_among(purpose_ids)
                    ),
                    field=Insight._meta.get_field("user"),
                ),
            )
    return lookup


def interests_claim(user: Any, application: Any, scopes: frozenset[str]) -> dict[str, Any]:
    """``interests``, ``best_contact_window`` and ``segments`` for ``application`` (a
    ``CIAM_CLAIM_PROVIDERS`` function); nothing without the scope or the consent."""
    if INTERESTS_SCOPE not in scopes:
        return {}
    purpose_ids = client_personalization_purpose_ids(application=application)
    if not purpose_ids:
        return {}
    # One statement, compiled once: the insight row with the consent check beside it.
    row = _insight_lookup(purpose_ids).first(user.pk)
    if row is None:
        # Nothing computed yet: empty values, still only with the consent.
        allowed = personalization_allowed(user=user, application=application)
        return insight_claims(None) if allowed else {}
    # Computed from the interactions of every purpose in ``row.purposes``: shown only to a
    # client that may see each of them.
    if not row.allowed or not set(row.purposes or []) <= purpose_ids:
        return {}
    return insight_claims(row)
