"""Showing profile values on pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

ADDRESS_ORDER = ("street_address", "postal_code", "locality", "region", "country")


@register.filter
def profile_value(value: Any) -> str:
    """A stored value as one line: an address's parts, a list's items, the rest as text."""
    if isinstance(value, dict):
        return ", ".join(str(value[key]) for key in ADDRESS_ORDER if value.get(key))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)
