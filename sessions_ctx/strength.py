"""How strong an authentication is: amr (RFC 8176) to acr, and comparing acr values."""

from __future__ import annotations

from collections.abc import Iterable

from .constants import (
    ACR_ONE_FACTOR,
    ACR_PHISHING_RESISTANT,
    ACR_PHISHING_RESISTANT_HARDWARE,
    ACR_RANK,
    ACR_TWO_FACTORS,
)

# Methods that count as a factor of their own (RFC 8176 values).
KNOWLEDGE = {"pwd", "pin"}
POSSESSION = {"otp", "hwk", "swk", "sms", "fed"}


def acr_for_amr(amr: Iterable[str]) -> str:
    """The acr a session earns with these methods.

    - a passkey (hwk or swk) with user verification ("user" or "pin"/biometric) is
      phishing-resistant: phrh when the key is hardware-bound, phr otherwise;
    - two independent factors ("mfa", or a knowledge plus a possession factor) give "2";
    - anything else "1".
    """
    methods = set(amr)
    verified = bool(methods & {"user", "pin", "fpt", "face"})
    if "hwk" in methods and verified:
        return ACR_PHISHING_RESISTANT_HARDWARE
    if "swk" in methods and verified:
        return ACR_PHISHING_RESISTANT
    if "mfa" in methods or (methods & KNOWLEDGE and methods & POSSESSION - {"fed"}):
        return ACR_TWO_FACTORS
    return ACR_ONE_FACTOR


def acr_satisfies(actual: str, required: str) -> bool:
    """True when ``actual`` is at least as strong as ``required`` (unknown values: never)."""
    if required not in ACR_RANK:
        return False
    return ACR_RANK.get(actual, 0) >= ACR_RANK[required]


def weakest_acceptable(requested: Iterable[str]) -> str | None:
    """Of the acr values a client asks for, the weakest this provider knows (OIDC Core
    3.1.2.1: acr_values is in order of preference; any of them is acceptable)."""
    known = [value for value in requested if value in ACR_RANK]
    if not known:
        return None
    return min(known, key=ACR_RANK.__getitem__)
