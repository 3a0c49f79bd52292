"""On PostgreSQL the database itself keeps the audit log append-only (migration 0002)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from audit.models import AuditEntry
from audit.services import audit_erase, audit_record

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the audit log trigger is PostgreSQL's"
    ),
    pytest.mark.django_db,
]

TABLE = AuditEntry._meta.db_table


def execute(sql: str, params: list | None = None) -> None:
    """Raw SQL in a savepoint, so a refused statement leaves the test's transaction usable."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.format(table=TABLE), params or [])


@pytest.fixture
def entry(customer):
    return audit_record(action="email.added", actor=customer, changes={"email": customer.email})


def test_raw_update_and_delete_are_refused(entry):
    """UPDATE and DELETE by raw SQL, bypassing Django, are refused by the trigger."""
    with pytest.raises(IntegrityError, match="append-only"):
        execute("UPDATE {table} SET action = 'x' WHERE id = %s", [entry.pk])
    with pytest.raises(IntegrityError, match="append-only"):
        execute("DELETE FROM {table} WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "email.added"


def test_anonymising_needs_the_erasure_setting(entry):
    """Blanking labels and values is refused unless the transaction set ciam.audit_erasure;
    with it, changing anything else is still refused."""
    with pytest.raises(IntegrityError):
        execute("UPDATE {table} SET subject_label = '', erased = true WHERE id = %s", [entry.pk])
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL ciam.audit_erasure = 'on'")
        with pytest.raises(IntegrityError):
            execute("UPDATE {table} SET action = 'x', erased = true WHERE id = %s", [entry.pk])


def test_a_link_may_only_become_null(entry, operator):
    """ON DELETE SET NULL gets through; pointing an entry at someone else does not."""
    with pytest.raises(IntegrityError):
        execute("UPDATE {table} SET subject_id = %s WHERE id = %s", [operator.pk, entry.pk])
    execute("UPDATE {table} SET subject_id = NULL WHERE id = %s", [entry.pk])


def test_audit_erase_and_user_deletion_pass_the_trigger(entry, customer):
    """audit_erase anonymises through the trigger, the setting does not outlive it, and
    the user row can then be deleted."""
    assert audit_erase(user=customer) >= 1
    erased = AuditEntry.objects.get(pk=entry.pk)
    assert (erased.subject_id, erased.changes, erased.erased) == (None, {}, True)
    with pytest.raises(IntegrityError):
        execute("UPDATE {table} SET actor_label = 'x', erased = true WHERE id = %s", [entry.pk])
    customer.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
