"""On PostgreSQL the database itself keeps the consent ledger append-only (migration 0003)."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from consent.models import ConsentAction, ConsentChannel, ConsentRecord
from consent.selectors import ledger_breaks
from consent.services.ledger import consent_record, ledger_erase
from tests.factories import UserFactory

from .test_purposes import grant, make_purpose

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the ledger trigger is PostgreSQL's"
    ),
]

TABLE = ConsentRecord._meta.db_table


def execute(sql: str, params: list | None = None) -> None:
    """Raw SQL in a savepoint, so a refused statement leaves the test's transaction usable."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.format(table=TABLE), params or [])


@pytest.fixture
def record(user):
    return consent_record(
        user=user,
        version=make_purpose("terms").current_version(),
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.SIGNUP,
        ip_address="203.0.113.7",
        user_agent="Firefox",
    )


def test_raw_update_is_refused(record):
    """An UPDATE by raw SQL, bypassing Django, is refused by the trigger."""
    with pytest.raises(IntegrityError, match="append-only"):
        execute("UPDATE {table} SET action = 'withdrawn' WHERE id = %s", [record.pk])
    assert ConsentRecord.objects.get(pk=record.pk).action == "granted"


def test_raw_delete_is_refused(record):
    """A DELETE by raw SQL is refused by the trigger."""
    with pytest.raises(IntegrityError, match="append-only"):
        execute("DELETE FROM {table} WHERE id = %s", [record.pk])
    assert ConsentRecord.objects.filter(pk=record.pk).exists()


def test_anonymising_update_needs_the_erasure_setting(record):
    """The anonymising UPDATE itself is refused unless the transaction set
    ciam.consent_erasure."""
    with pytest.raises(IntegrityError):
        execute(
            "UPDATE {table} SET user_id = NULL, ip_address = NULL, user_agent = '', "
            "erased = true WHERE id = %s",
            [record.pk],
        )


def test_erasure_setting_allows_only_anonymisation(record):
    """With the setting on, an UPDATE that changes anything else (or does not fully
    anonymise) is still refused."""
    for change in (
        "user_id = NULL, ip_address = NULL, user_agent = '', erased = true, action = 'expired'",
        "user_id = NULL, erased = true",
        "user_agent = ''",
    ):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL ciam.consent_erasure = 'on'")
            with pytest.raises(IntegrityError):
                execute(f"UPDATE {{table}} SET {change} WHERE id = %s", [record.pk])  # noqa: S608


def test_ledger_erase_passes_the_trigger_and_keeps_the_chain(record, user):
    """ledger_erase anonymises through the trigger; the chain verifies; the setting does not
    outlive the erasure (a later raw UPDATE in the same transaction is refused)."""
    assert ledger_erase(user=user) == 1
    tombstone = ConsentRecord.objects.get(pk=record.pk)
    assert (tombstone.user_id, tombstone.ip_address, tombstone.user_agent) == (None, None, "")
    assert tombstone.erased
    assert ledger_breaks() == []
    with pytest.raises(IntegrityError):
        execute(
            "UPDATE {table} SET user_id = NULL, ip_address = NULL, user_agent = '', "
            "erased = true WHERE id = %s",
            [record.pk],
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_do_not_fork_the_chain():
    """Two appends for one user at the same time both land, one after the other: the user's
    row lock serialises them (sequence 2 and 3 after 1, each linking to the one before)."""
    user = UserFactory()
    terms, newsletter = make_purpose("terms"), make_purpose("newsletter")
    grant(user, terms)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def append(purpose) -> None:
        try:
            barrier.wait(timeout=10)
            grant(user, purpose)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(p,)) for p in (terms, newsletter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    records = list(ConsentRecord.objects.filter(user=user).order_by("sequence"))
    assert [r.sequence for r in records] == [1, 2, 3]
    assert records[2].previous_hash == records[1].hash
    assert ledger_breaks() == []
