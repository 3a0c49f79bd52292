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

from consent.selectors import purposes_granted

from .models import value_is_empty
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


def profile_completeness(values: dict[str, Any], schema: Schema) -> int:
    """The share (0-100) of the schema's active fields ``values`` fills."""
    if not schema.fields:
        return 0
    filled = sum(1 for f in schema.fields if not value_is_empty(values.get(f.key)))
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
    custom_scopes = {**schema.custom_claim_scopes, COMPLETENESS_CLAIM: COMPLETENESS_SCOPE}
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
        if not f.claim or value_is_empty(value):
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
