"""A user's profile as claims: what ciam/claims.py (the one claims function) releases.

``profile_claims`` turns ``Profile.values`` into claim values through the schema (each field
names the claim it feeds), withholding the fields whose consent purpose the user has not
granted (LGPD art. 7 and 11: data collected for a purpose is shared for it only). Custom
claims come with the scope that releases them; ``profile_completeness`` (the share of the
schema's fields the user filled, 0 to 100) is one of them, released with ``profile``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, Q, Subquery

from .schema import Schema, schema_current

COMPLETENESS_CLAIM = "profile_completeness"
COMPLETENESS_SCOPE = "profile"


@dataclass(frozen=True)
class ProfileClaims:
    """Claim name -> value for one user, and the scope of each custom claim."""

    values: dict[str, Any] = field(default_factory=dict)
    custom_scopes: dict[str, str] = field(default_factory=dict)
    verified: frozenset[str] = frozenset()  # claims whose value the user proved (phone_number)
    updated_at: int | None = None


def purposes_granted(
    *, user: Any, purpose_ids: set[int], application: Any | None = None
) -> set[int]:
    """Of ``purpose_ids``, those whose latest ledger record for ``user`` grants them (one
    query, the ledger's (user, purpose, sequence) index). With ``application``, only the
    purposes that client may see: those linked to it and those every client requires, as
    for the ``consents`` claim (data collected for a purpose goes to that purpose's
    clients only)."""
    if not purpose_ids:
        return set()
    from consent.models import GRANTING_ACTIONS, ConsentRecord

    latest = (
        ConsentRecord.objects.filter(user=user, purpose_id=OuterRef("purpose_id"))
        .order_by("-sequence")
        .values("sequence")[:1]
    )
    records = ConsentRecord.objects.filter(
        user=user, purpose_id__in=purpose_ids, sequence=Subquery(latest)
    )
    if application is not None:
        records = records.filter(
            Q(purpose__required=True) | Q(purpose__client_purposes__application=application)
        )
    rows = records.values_list("purpose_id", "action")
    return {purpose_id for purpose_id, action in rows if action in GRANTING_ACTIONS}


def profile_completeness(values: dict[str, Any], schema: Schema) -> int:
    """The share (0-100) of the schema's active fields ``values`` fills."""
    if not schema.fields:
        return 0
    filled = sum(1 for f in schema.fields if values.get(f.key) not in (None, "", [], {}))
    return round(100 * filled / len(schema.fields))


def profile_claims(
    user: Any, profile: Any | None = None, *, client: Any | None = None
) -> ProfileClaims:
    """The claims of ``user``'s profile as ``client`` may receive them (``profile``: the
    Profile row if already loaded; read from ``user.profile`` otherwise). A field with a
    consent purpose is released only while the user grants it and, with a client, only to
    the clients of that purpose (``purposes_granted``).

    One query only when a filled field needs a consent purpose (the ledger); none otherwise:
    the schema comes from the process cache and the profile with the user.
    """
    if profile is None:
        profile = getattr(user, "profile", None)
    schema = schema_current()
    values: dict[str, Any] = dict(profile.values or {}) if profile is not None else {}
    custom_scopes = {
        f.claim: f.scope for f in schema.fields if f.claim and f.claim not in _standard_claims()
    }
    custom_scopes[COMPLETENESS_CLAIM] = COMPLETENESS_SCOPE
    claims: dict[str, Any] = {COMPLETENESS_CLAIM: profile_completeness(values, schema)}
    needs_purpose = {
        f.purpose_id for f in schema.fields if f.purpose_id and values.get(f.key) is not None
    }
    granted = (
        purposes_granted(user=user, purpose_ids=needs_purpose, application=client)
        if needs_purpose
        else set()
    )
    verified_keys = set(profile.verified or []) if profile is not None else set()
    verified: set[str] = set()
    for f in schema.fields:
        value = values.get(f.key)
        if not f.claim or value in (None, "", [], {}):
            continue
        if f.purpose_id and f.purpose_id not in granted:
            continue
        claims[f.claim] = value
        if f.key in verified_keys:
            verified.add(f.claim)
    return ProfileClaims(
        values=claims,
        custom_scopes=custom_scopes,
        verified=frozenset(verified),
        updated_at=int(profile.updated_at.timestamp())
        if profile is not None and profile.updated_at
        else None,
    )


def _standard_claims() -> frozenset[str]:
    from ciam.claims import STANDARD_CLAIMS

    return STANDARD_CLAIMS
