"""The password policy has no composition rules (ASVS 5.0 6.2.5): length and the list of
common passwords decide, not which kinds of characters a password holds."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "password",
    [
        "58203948571029384756",
        "correct horse battery staple",
        "ção ñandú 東京 ☃ 2026",
        "a" * 8 + "Z",
    ],
)
def test_long_enough_uncommon_passwords_are_accepted(password):
    validate_password(password, UserFactory())


@pytest.mark.parametrize("password", ["12345678", "password", "short1!"])
def test_common_or_short_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password, UserFactory())
