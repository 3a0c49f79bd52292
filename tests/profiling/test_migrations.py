"""The standard-claim columns of the old Profile become schema fields and values (profiling
migrations 0002-0004), and come back when the migrations are reversed."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from profiling.models import Profile, ProfileField, ProfileValue
from tests.factories import UserFactory

BEFORE = [("profiling", "0001_initial")]
COLUMNS_REMOVED = [("profiling", "0004_profile_columns_removed")]


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes("profiling")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_profile_columns_become_values_and_come_back():
    """Names, birthdate, a verified phone and address parts become ProfileValue rows
    (provenance ``import``) and Profile.values; reversing puts them back in the columns."""
    user = UserFactory(given_name="", family_name="")
    old = migrate(BEFORE)
    OldProfile = old.get_model("profiling", "Profile")
    OldProfile.objects.create(
        user_id=user.pk,
        given_name="Ana",
        family_name="Silva",
        birthdate=date(1990, 2, 28),
        phone_number="+5511987654321",
        phone_number_verified=True,
        locality="São Paulo",
        country="BR",
    )
    try:
        migrate(COLUMNS_REMOVED)
        profile = Profile.objects.get(user=user)
        assert profile.values == {
            "given_name": "Ana",
            "family_name": "Silva",
            "birthdate": "1990-02-28",
            "phone_number": "+5511987654321",
            "address": {"locality": "São Paulo", "country": "BR"},
        }
        assert profile.verified == ["phone_number"]
        assert ProfileField.objects.filter(key="address", claim="address").exists()
        phone = ProfileValue.objects.get(user=user, field__key="phone_number")
        assert phone.verified
        assert phone.source == "import"
        assert ProfileValue.objects.filter(user=user).count() == 5

        back = migrate(BEFORE)
        row = back.get_model("profiling", "Profile").objects.get(user_id=user.pk)
        assert (row.given_name, row.family_name, row.locality, row.country) == (
            "Ana",
            "Silva",
            "São Paulo",
            "BR",
        )
        assert row.birthdate == date(1990, 2, 28)
        assert row.phone_number_verified is True
    finally:
        migrate(latest())
