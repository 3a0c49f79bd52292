"""Tagged values: how an event's data says which personal values need a scope or a consent
purpose before a receiver sees them (``selectors.event_envelope`` projects them).

A tagged value is stored as ``{"_tag": {"scope": "email", "purpose": "marketing"}, "value":
...}`` anywhere in ``data``. The projection replaces it by its value when the receiver may
see it, and drops its key (or list item) otherwise. A top-level ``"_requires"`` (same shape
as a tag) makes the whole event need that scope or purpose: without it the receiver gets
nothing (an event about a marketing answer is itself marketing data).
"""

from __future__ import annotations

from typing import Any

TAG_KEY = "_tag"
REQUIRES_KEY = "_requires"

# Scopes of the standard OIDC claims (OIDC Core 5.4); any other profile value is "profile"
# unless its field says otherwise.
CLAIM_SCOPES = {
    "email": "email",
    "email_verified": "email",
    "phone_number": "phone",
    "phone_number_verified": "phone",
    "address": "address",
}


def _tag(scope: str | None, purpose: str | None) -> dict[str, str]:
    tag: dict[str, str] = {}
    if scope:
        tag["scope"] = str(scope)
    if purpose:
        tag["purpose"] = str(purpose)
    return tag


def tagged(value: Any, *, scope: str | None = None, purpose: str | None = None) -> Any:
    """``value`` wrapped with what a receiver needs to see it; untouched without either."""
    tag = _tag(scope, purpose)
    if not tag:
        return value
    return {TAG_KEY: tag, "value": value}


def requires(*, scope: str | None = None, purpose: str | None = None) -> dict[str, str]:
    """The ``_requires`` entry of an event's data: the whole event needs these."""
    return _tag(scope, purpose)


def is_tagged(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get(TAG_KEY), dict) and "value" in value


def purposes_in(data: Any) -> set[str]:
    """Every consent purpose key that ``data`` names in its tags and requirements."""
    found: set[str] = set()
    if isinstance(data, dict):
        for key, item in data.items():
            if key in (TAG_KEY, REQUIRES_KEY) and isinstance(item, dict):
                if item.get("purpose"):
                    found.add(str(item["purpose"]))
            else:
                found |= purposes_in(item)
    elif isinstance(data, list):
        for item in data:
            found |= purposes_in(item)
    return found


def without_tagged(data: Any) -> Any:
    """``data`` with every tagged value left out (what an erased person's events keep)."""
    if is_tagged(data):
        return None
    if isinstance(data, dict):
        return {
            key: without_tagged(item)
            for key, item in data.items()
            if not is_tagged(item) and key != TAG_KEY
        }
    if isinstance(data, list):
        return [without_tagged(item) for item in data if not is_tagged(item)]
    return data
