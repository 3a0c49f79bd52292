"""The append-only consent ledger: hash chain, guards, erasure, verifier, services."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory

from consent.models import (
    ConsentAction,
    ConsentChannel,
    ConsentRecord,
    LedgerImmutableError,
    PurposeVersion,
)
from consent.selectors import consent_state, ledger_breaks
from consent.services.ledger import (
    ConsentError,
    consent_record,
    consent_subject,
    ledger_erase,
    purpose_version_publish,
    purpose_withdraw,
    purposes_decide,
)
from consent.signals import purpose_consent_changed
from tests.factories import UserFactory

from .test_purposes import application, grant, make_purpose, new_version  # noqa: F401

TABLE = ConsentRecord._meta.db_table


def raw(sql: str, params: list | None = None) -> None:
    """Tamper with the table directly, bypassing the model's guards (and, on PostgreSQL,
    its trigger, disabled for the statement inside the test's transaction)."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("SET LOCAL session_replication_role = replica")  # no triggers
        cursor.execute(sql.format(table=TABLE), params or [])
        if postgres:
            cursor.execute("SET LOCAL session_replication_role = origin")


def hexid(record: ConsentRecord) -> str:
    """The primary key as SQLite stores a UUIDField (32 hex digits; PostgreSQL reads it)."""
    return record.id.hex


@pytest.fixture
def chain(user):
    """Three records of one user: terms granted, newsletter granted, newsletter withdrawn."""
    terms, newsletter = make_purpose("terms"), make_purpose("newsletter")
    first = grant(user, terms)
    second = grant(user, newsletter)
    third = purpose_withdraw(user=user, purpose=newsletter, channel=ConsentChannel.PORTAL)
    return [first, second, third]


def test_records_chain_per_user(user, chain):
    """Each record's previous_hash is the hash of the one before; the first has none; the
    hash is SHA-256 of the canonical JSON of its fields."""
    assert [record.sequence for record in chain] == [1, 2, 3]
    assert chain[0].previous_hash == ""
    assert chain[1].previous_hash == chain[0].hash
    assert chain[2].previous_hash == chain[1].hash
    fields = chain[1].chain_fields()
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert chain[1].hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert fields["purpose"] == "newsletter"
    assert fields["previous_hash"] == chain[0].hash
    assert ledger_breaks() == []


def test_subject_is_an_hmac_of_the_user_id_not_the_email(user, chain):
    """The subject identifies the user only with the secret key; every record carries it."""
    assert {record.subject for record in chain} == {consent_subject(user)}
    assert user.email not in chain[0].subject
    assert len(chain[0].subject) == 64


def test_chains_of_two_users_are_separate(chain):
    """Another user's first record starts its own chain."""
    other = UserFactory()
    record = grant(other, chain[0].purpose)
    assert record.sequence == 1
    assert record.previous_hash == ""
    assert ledger_breaks() == []


def test_record_cannot_be_changed_or_deleted_through_the_orm(chain):
    """save() of an existing record, delete(), queryset update() and delete() all refuse."""
    record = ConsentRecord.objects.get(pk=chain[0].pk)
    record.action = ConsentAction.WITHDRAWN
    with pytest.raises(LedgerImmutableError):
        record.save()
    with pytest.raises(LedgerImmutableError):
        record.delete()
    with pytest.raises(LedgerImmutableError):
        ConsentRecord.objects.filter(pk=record.pk).update(action="withdrawn")
    with pytest.raises(LedgerImmutableError):
        ConsentRecord.objects.all().delete()
    assert ConsentRecord.objects.get(pk=record.pk).action == ConsentAction.GRANTED


def test_published_version_cannot_be_changed(db):
    """A published version's words are what users agreed to: they cannot be edited."""
    version = make_purpose("terms").current_version()
    version.text_en = "Something else."
    with pytest.raises(LedgerImmutableError):
        version.save()
    with pytest.raises(ConsentError):
        purpose_version_publish(version=version, change="minor")


def test_rewritten_field_is_detected(user, chain):
    """A field rewritten in the database no longer matches its record's hash."""
    raw("UPDATE {table} SET action = 'granted' WHERE id = %s", [hexid(chain[2])])
    breaks = ledger_breaks()
    assert [(b.record_id, b.reason) for b in breaks] == [(str(chain[2].id), "hash_mismatch")]


def test_rewritten_ip_address_is_detected(user, db):
    """The raw IP address is checked against its digest on records not erased."""
    version = make_purpose("terms").current_version()
    record = consent_record(
        user=user,
        version=version,
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.SIGNUP,
        ip_address="203.0.113.7",
        user_agent="Firefox",
    )
    raw("UPDATE {table} SET ip_address = '198.51.100.1' WHERE id = %s", [hexid(record)])
    assert [b.reason for b in ledger_breaks(user=user)] == ["value_mismatch"]


def test_deleted_record_in_the_middle_is_detected(user, chain):
    """Removing a record leaves a gap in the sequence and a broken link."""
    raw("DELETE FROM {table} WHERE id = %s", [hexid(chain[1])])
    reasons = {(b.record_id, b.reason) for b in ledger_breaks(user=user)}
    assert reasons == {(str(chain[2].id), "sequence_gap"), (str(chain[2].id), "chain_broken")}


def test_reordered_records_are_detected(user, chain):
    """Swapping two records' places (their sequence numbers) breaks their hashes and links."""
    raw("UPDATE {table} SET sequence = 99 WHERE id = %s", [hexid(chain[0])])
    raw("UPDATE {table} SET sequence = 1 WHERE id = %s", [hexid(chain[1])])
    raw("UPDATE {table} SET sequence = 2 WHERE id = %s", [hexid(chain[0])])
    reasons = {b.reason for b in ledger_breaks(user=user)}
    assert {"hash_mismatch", "chain_broken"} <= reasons


def test_verify_command_reports_per_user_and_exits_1_on_a_break(user, chain, capsys):
    """manage.py verify_consent_ledger prints one line per chain and fails on a break."""
    other = UserFactory()
    grant(other, chain[0].purpose)
    call_command("verify_consent_ledger")
    output = capsys.readouterr().out
    assert "2 chains, 4 records: OK" in output
    assert f"user {user.pk}: 3 records, OK" in output

    raw("UPDATE {table} SET channel = 'admin' WHERE id = %s", [hexid(chain[0])])
    with pytest.raises(SystemExit) as exited:
        call_command("verify_consent_ledger")
    assert exited.value.code == 1
    output = capsys.readouterr().out
    assert f"user {user.pk}: 3 records, BROKEN" in output
    assert "hash_mismatch" in output
    assert f"user {other.pk}: 1 records, OK" in output


def test_erasure_keeps_a_verifiable_tombstone_chain(user, db):
    """ledger_erase blanks user, IP address and user agent, marks the records erased, keeps
    subject and hashes: the chain verifies and later records chain after the tombstones."""
    version = make_purpose("terms").current_version()
    first = consent_record(
        user=user,
        version=version,
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.SIGNUP,
        ip_address="203.0.113.7",
        user_agent="Firefox",
    )
    assert ledger_erase(user=user) == 1
    tombstone = ConsentRecord.objects.get(pk=first.pk)
    assert tombstone.user_id is None
    assert tombstone.ip_address is None
    assert tombstone.user_agent == ""
    assert tombstone.erased is True
    assert tombstone.subject == first.subject
    assert tombstone.hash == first.hash
    assert consent_state(user=user) == {}
    assert ledger_breaks() == []
    assert ledger_breaks(user=user) == []
    later = grant(user, version.purpose)
    assert later.sequence == 2
    assert later.previous_hash == first.hash
    assert ledger_breaks() == []


def test_erased_user_can_be_deleted(user, db):
    """The records PROTECT their user until erased; then the account can go."""
    grant(user, make_purpose("terms"))
    ledger_erase(user=user)
    user.delete()
    assert ConsentRecord.objects.filter(erased=True).count() == 1
    assert ledger_breaks() == []


def test_erasure_context_does_not_allow_other_changes(user, chain):
    """Only the anonymising fields may change, and only through ledger_erase."""
    from consent.models import ledger_erasure

    with ledger_erasure(), pytest.raises(LedgerImmutableError):
        ConsentRecord.objects.filter(user=user).update(action="granted")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("draft", "draft"),
        ("inactive", "inactive"),
        ("action", "action"),
        ("channel", "channel"),
        ("sha", "text_sha256"),
        ("ip", "IP address"),
    ],
)
def test_bad_input_is_refused_and_nothing_recorded(user, db, case, message):
    """A draft version, an inactive purpose, an unknown action or channel, a malformed text
    hash or IP address: ConsentError with a clear message, and the ledger stays empty."""
    purpose = make_purpose("terms", publish=None if case == "draft" else "material")
    version = PurposeVersion.objects.get(purpose=purpose)
    if case == "inactive":
        purpose.active = False
        purpose.save()
    kwargs = {
        "user": user,
        "version": version,
        "action": "maybe" if case == "action" else ConsentAction.GRANTED,
        "channel": "carrier-pigeon" if case == "channel" else ConsentChannel.SIGNUP,
        "text_sha256": "not-a-hash" if case == "sha" else None,
        "ip_address": "not-an-address" if case == "ip" else None,
    }
    with pytest.raises(ConsentError, match=message):
        consent_record(**kwargs)
    assert not ConsentRecord.objects.exists()


def test_record_stores_request_context_and_text_hash(user, db, application):  # noqa: F811
    """purposes_decide reads IP address and user agent from the request, truncates the user
    agent to 512 characters and records the hash of the words shown in that language."""
    terms = make_purpose("terms")
    version = terms.current_version()
    request = RequestFactory().post(
        "/consent/x/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="A" * 900
    )
    [record] = purposes_decide(
        user=user,
        application=application,
        granted=[version],
        declined=[],
        channel=ConsentChannel.SIGNIN,
        request=request,
        language="pt-br",
    )
    assert record.ip_address == "203.0.113.9"
    assert record.user_agent == "A" * 512
    assert record.client_id == application.client_id
    assert record.application_id == application.pk
    assert record.language == "pt-br"
    shown = "\n\n".join([version.title_pt_br, version.summary_pt_br, version.text_pt_br])
    assert record.text_sha256 == hashlib.sha256(shown.encode()).hexdigest()
    assert record.text_sha256 == version.text_sha256("pt-BR")
    assert record.text_sha256 != version.text_sha256("en")


def test_decide_records_granted_reconfirmed_withdrawn_and_declined(user, application):  # noqa: F811
    """Granting the version already granted reconfirms it; declining a granted purpose
    withdraws it; declining one never granted records a refusal."""
    terms, newsletter, sharing = (
        make_purpose("terms"),
        make_purpose("newsletter"),
        make_purpose("sharing"),
    )
    first = purposes_decide(
        user=user,
        application=application,
        granted=[terms.current_version(), newsletter.current_version()],
        declined=[sharing.current_version()],
        channel=ConsentChannel.SIGNIN,
    )
    assert [r.action for r in first] == ["granted", "granted", "declined"]
    second = purposes_decide(
        user=user,
        application=application,
        granted=[terms.current_version()],
        declined=[newsletter.current_version()],
        channel=ConsentChannel.SIGNIN,
    )
    assert [r.action for r in second] == ["reconfirmed", "withdrawn"]
    new_version(terms)
    [third] = purposes_decide(
        user=user,
        application=application,
        granted=[terms.current_version()],
        declined=[],
        channel=ConsentChannel.SIGNIN,
    )
    assert third.action == "granted"
    state = consent_state(user=user)
    assert {key: decision.granted for key, decision in state.items()} == {
        "terms": True,
        "newsletter": False,
        "sharing": False,
    }
    assert state["terms"].version.number == 2


def test_decide_refuses_a_purpose_both_granted_and_declined(user, application):  # noqa: F811
    """Contradictory decisions are refused; nothing is recorded."""
    version = make_purpose("terms").current_version()
    with pytest.raises(ConsentError):
        purposes_decide(
            user=user,
            application=application,
            granted=[version],
            declined=[version],
            channel=ConsentChannel.SIGNIN,
        )
    assert not ConsentRecord.objects.exists()


def test_withdraw_without_a_grant_records_nothing(user, db):
    """Withdrawing what was never granted is a no-op returning None."""
    assert purpose_withdraw(user=user, purpose=make_purpose("x"), channel="portal") is None
    assert not ConsentRecord.objects.exists()


def test_signal_is_sent_with_user_and_record(user, db):
    """purpose_consent_changed carries the user and the new record."""
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    purpose_consent_changed.connect(receiver)
    try:
        record = grant(user, make_purpose("terms"))
    finally:
        purpose_consent_changed.disconnect(receiver)
    assert len(received) == 1
    assert received[0]["user"] == user
    assert received[0]["record"] == record


def test_anonymous_user_is_refused(db):
    """Consent belongs to a signed-in user."""
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(ConsentError):
        consent_record(
            user=AnonymousUser(),
            version=make_purpose("terms").current_version(),
            action=ConsentAction.GRANTED,
            channel=ConsentChannel.SIGNUP,
        )
