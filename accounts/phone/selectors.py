"""Reads of the customer's mobile number: the profile field that holds it and its value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers

from profiling.models import Profile, ProfileField, ProfileValue
from profiling.selectors import account_fields

from .constants import PHONE_CLAIM


def phone_display(number: str) -> str:
    """``number`` (E.164) as people read it: ``+55 11 98765-4321``."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@dataclass(frozen=True)
class PhoneNumber:
    """The number on the profile (E.164) and whether its owner proved control of it."""

    number: str
    verified: bool

    @property
    def display(self) -> str:
        return phone_display(self.number)


def phone_field(*, user: Any) -> ProfileField | None:
    """The field the customer keeps their mobile number in: the active, customer-editable
    field feeding the ``phone_number`` claim (None when the schema has none)."""
    for field in account_fields(user=user):
        if field.claim == PHONE_CLAIM:
            return field
    return None


def phone_current(*, user: Any, field: ProfileField) -> PhoneNumber | None:
    """``user``'s number in ``field``, if any."""
    profile = Profile.objects.filter(user=user).only("values", "verified").first()
    if profile is None:
        return None
    number = profile.value(field.key)
    if not isinstance(number, str) or not number:
        return None
    return PhoneNumber(number=number, verified=field.key in (profile.verified or []))


def phone_verified_elsewhere(*, user: Any, field: ProfileField, number: str) -> bool:
    """Whether another account holds ``number`` in ``field``, verified."""
    return (
        ProfileValue.objects.filter(field=field, value=number, verified=True)
        .exclude(user=user)
        .exists()
    )
