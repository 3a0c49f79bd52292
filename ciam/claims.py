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
# ``interests``: what personalization inferred and the customer declared, the best contact
# window and the segments (personalization.claims.interests_claim).
PROVIDED_SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "consents": ("consents",),
    "interests": ("interests", "best_contact_window", "segments"),
}

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {**STANDARD_SCOPE_CLAIMS, **PROVIDED_SCOPE_CLAIMS}

# Standard claims may be requested one by one (the ``claims`` parameter, OIDC Core 5.5), and
# so may the personalization claims (the consent page lists each); ``consents`` needs its scope.
STANDARD_CLAIMS = frozenset(claim for claims in STANDARD_SCOPE_CLAIMS.values() for claim in claims)
PROVIDED_SCOPES = frozenset(PROVIDED_SCOPE_CLAIMS)
PROVIDED_CLAIMS = frozenset(claim for claims in PROVIDED_SCOPE_CLAIMS.values() for claim in claims)
REQUESTABLE_PROVIDED_CLAIMS = frozenset(PROVIDED_SCOPE_CLAIMS["interests"])
# The scope each provided claim comes with.
PROVIDED_CLAIM_SCOPES = {
    claim: scope for scope, claims in PROVIDED_SCOPE_CLAIMS.items() for claim in claims
}

# Claims of the ID token itself (OIDC Core 2), set by the provider.
PROTOCOL_CLAIMS: tuple[str, ...] = (
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
)

CLAIMS_SUPPORTED: tuple[str, ...] = (
    *PROTOCOL_CLAIMS,
    "profile_completeness",
    *(claim for claims in SCOPE_CLAIMS.values() for claim in claims),
)


@dataclass(frozen=True)
class ClaimSource:
    """What the claims are computed from (no database access happens in this module)."""

    sub: str
    email: str
    email_verified: bool
    # profiling.claims.ProfileClaims (claim values, custom claims' scopes, verified claims,
    # updated_at) or None.
    profile: Any | None
    # Values of PROVIDED_CLAIMS from CIAM_CLAIM_PROVIDERS (only read for their granted scope).
    provided: Mapping[str, Any] = field(default_factory=dict)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _address_claim(value: Any) -> dict[str, str] | None:
    """OIDC Core 5.1.1: the address parts, and ``formatted`` from them."""
    if not isinstance(value, dict):
        return None
    parts = {
        key: str(value[key])
        for key in ("street_address", "locality", "region", "postal_code", "country")
        if value.get(key)
    }
    if not parts:
        return None
    lines = [
        parts.get("street_address", ""),
        " ".join(p for p in (parts.get("postal_code"), parts.get("locality")) if p),
        parts.get("region", ""),
        parts.get("country", ""),
    ]
    parts["formatted"] = "\n".join(line for line in lines if line)
    return parts


def _profile_value(profile: Any | None, claim: str) -> Any:
    """``claim`` from the profile's claims (profiling.claims.ProfileClaims), or None."""
    if profile is None:
        return None
    values = profile.values
    if claim == "name" and _empty(values.get("name")):
        name = " ".join(
            str(values[part]) for part in ("given_name", "family_name") if values.get(part)
        )
        return name or None
    if claim == "updated_at":
        return profile.updated_at
    if claim == "address":
        return _address_claim(values.get("address"))
    if claim == "phone_number_verified":
        return ("phone_number" in profile.verified) if values.get("phone_number") else None
    value = values.get(claim)
    return None if _empty(value) else value


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

    A custom claim of the profile schema is released with the scope its field names. A
    standard or custom claim requested through the ``claims`` parameter is released even
    without its scope (the consent screen lists it); unknown names are ignored, and values that are
    unknown are omitted, never sent as null (OIDC Core 5.3.2).
    """
    scopes = set(scopes)
    names: list[str] = ["sub"]
    for scope, claim_names in SCOPE_CLAIMS.items():
        if scope in scopes:
            names.extend(claim_names)
    # Custom claims of the profile schema, with the scope each names (profiling/claims.py).
    custom = dict(getattr(source.profile, "custom_scopes", None) or {})
    for name, scope in custom.items():
        if scope in scopes and name not in names:
            names.append(name)
    for name in requested_claim_names(claims_request, member):
        if name not in names and (
            name in STANDARD_CLAIMS or name in custom or name in REQUESTABLE_PROVIDED_CLAIMS
        ):
            names.append(name)
    result: dict[str, Any] = {}
    for name in names:
        value = claim_value(source, name)
        if value is not None:
            result[name] = value
    return result
