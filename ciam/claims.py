"""The one place where a user becomes OpenID Connect claims.

``SCOPE_CLAIMS`` is the scope -> claims table (OIDC Core 5.4, plus this provider's own
scopes); ``user_claims`` is a pure function of the user, their profile, the granted scopes and
the ``claims`` request parameter (OIDC Core 5.5). The validator in ciam/oauth/validator.py
calls it for ID tokens and UserInfo.

The claims of ``PROVIDED_SCOPE_CLAIMS`` come from other apps: the functions listed in
``CIAM_CLAIM_PROVIDERS`` (ciam/oauth/claim_sources.py calls them, only when one of those
scopes was granted) and reach this module as data, ``ClaimSource.provided``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# OIDC Core 5.4.
STANDARD_SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}

# This provider's own scopes, whose values come from CIAM_CLAIM_PROVIDERS. ``consents``: the
# user's purpose decisions this client may see (consent.claims.consents_claim).
PROVIDED_SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "consents": ("consents",),
}

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {**STANDARD_SCOPE_CLAIMS, **PROVIDED_SCOPE_CLAIMS}

# Only standard claims may be requested one by one (the ``claims`` parameter, OIDC Core 5.5);
# a provided claim needs its scope.
STANDARD_CLAIMS = frozenset(claim for claims in STANDARD_SCOPE_CLAIMS.values() for claim in claims)
PROVIDED_SCOPES = frozenset(PROVIDED_SCOPE_CLAIMS)
PROVIDED_CLAIMS = frozenset(claim for claims in PROVIDED_SCOPE_CLAIMS.values() for claim in claims)

CLAIMS_SUPPORTED: tuple[str, ...] = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    *(claim for claims in SCOPE_CLAIMS.values() for claim in claims),
)


@dataclass(frozen=True)
class ClaimSource:
    """What the claims are computed from (no database access happens in this module)."""

    sub: str
    email: str
    email_verified: bool
    profile: Any | None  # profiling.models.Profile or None
    # Values of PROVIDED_CLAIMS from CIAM_CLAIM_PROVIDERS (only read for their granted scope).
    provided: Mapping[str, Any] = field(default_factory=dict)


def _profile_value(profile: Any | None, claim: str) -> Any:
    if profile is None:
        return None
    if claim == "name":
        return profile.name or None
    if claim == "updated_at":
        return int(profile.updated_at.timestamp()) if profile.updated_at else None
    if claim == "birthdate":
        return profile.birthdate.isoformat() if profile.birthdate else None
    if claim == "address":
        parts = {
            "street_address": profile.street_address,
            "locality": profile.locality,
            "region": profile.region,
            "postal_code": profile.postal_code,
            "country": profile.country,
        }
        parts = {key: value for key, value in parts.items() if value}
        if not parts:
            return None
        lines = [
            profile.street_address,
            " ".join(p for p in (profile.postal_code, profile.locality) if p),
            profile.region,
            profile.country,
        ]
        parts["formatted"] = "\n".join(line for line in lines if line)
        return parts
    if claim == "phone_number_verified":
        return bool(profile.phone_number_verified) if profile.phone_number else None
    if claim in ("preferred_username", "profile"):
        return None
    value = getattr(profile, claim, None)
    return value or None


def claim_value(source: ClaimSource, claim: str) -> Any:
    if claim == "sub":
        return source.sub
    if claim == "email":
        return source.email or None
    if claim == "email_verified":
        return bool(source.email_verified) if source.email else None
    if claim in PROVIDED_CLAIMS:
        return source.provided.get(claim)
    return _profile_value(source.profile, claim)


def requested_claim_names(claims_request: dict | None, member: str) -> list[str]:
    """Names asked for in the ``claims`` request parameter's ``member`` (OIDC Core 5.5)."""
    if not isinstance(claims_request, dict):
        return []
    wanted = claims_request.get(member)
    if not isinstance(wanted, dict):
        return []
    return [name for name in wanted if isinstance(name, str)]


def user_claims(
    source: ClaimSource,
    *,
    scopes: Iterable[str],
    claims_request: dict | None = None,
    member: str = "userinfo",
) -> dict[str, Any]:
    """Standard claims for the granted scopes plus those requested individually.

    A standard claim requested through the ``claims`` parameter is released even without
    its scope (the consent screen lists it); unknown names are ignored, and values that are
    unknown are omitted, never sent as null (OIDC Core 5.3.2).
    """
    scopes = set(scopes)
    names: list[str] = ["sub"]
    for scope, claim_names in SCOPE_CLAIMS.items():
        if scope in scopes:
            names.extend(claim_names)
    for name in requested_claim_names(claims_request, member):
        if name not in names and name in STANDARD_CLAIMS:
            names.append(name)
    result: dict[str, Any] = {}
    for name in names:
        value = claim_value(source, name)
        if value is not None:
            result[name] = value
    return result
