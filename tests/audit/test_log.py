"""The audit log itself: entries are appended, never changed or deleted; secrets never
enter it; who, what, when and from where are recorded (audit/services.py, audit/models.py)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import RequestFactory

from audit.models import ActorKind, AuditEntry, AuditImmutableError
from audit.services import REDACTED, audit_erase, audit_record, changes_redact
from audit.signals import audit_recorded

pytestmark = pytest.mark.django_db


def test_an_entry_cannot_be_changed_or_deleted(customer):
    """save() of an existing entry, delete(), and the queryset's update() and delete() all
    raise: the log is append-only."""
    entry = audit_record(action="profile.updated", actor=customer)
    entry.action = "something.else"
    with pytest.raises(AuditImmutableError):
        entry.save()
    with pytest.raises(AuditImmutableError):
        entry.delete()
    with pytest.raises(AuditImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AuditImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "profile.updated"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password1",
        "oldPassword",
        "client_secret",
        "token",
        "access_token",
        "code",
        "recovery_codes",
        "verification_code",
        "otp",
        "totpKey",
        "api_key",
    ],
)
def test_secret_values_are_redacted_at_any_depth(key):
    """A value under a secret-looking key is replaced, in nested dicts and lists too."""
    redacted = changes_redact({key: "s3cr3t", "nested": [{key: "s3cr3t", "name": "Ana"}]})
    assert redacted == {key: REDACTED, "nested": [{key: REDACTED, "name": "Ana"}]}


@pytest.mark.parametrize("key", ["postal_code", "country_code", "email", "given_name", "name"])
def test_ordinary_values_stay_readable(key):
    assert changes_redact({key: "value"}) == {key: "value"}


def test_values_that_are_not_json_are_kept_as_text(customer):
    """Dates, decimals and other objects become JSON text rather than failing."""
    import datetime
    import decimal

    entry = audit_record(
        action="x.y",
        actor=None,
        changes={"when": datetime.date(2026, 1, 2), "amount": decimal.Decimal("1.5"), "o": object},
    )
    entry.refresh_from_db()
    assert entry.changes["when"] == "2026-01-02"
    assert entry.changes["amount"] == "1.5"
    assert entry.actor_kind == ActorKind.SYSTEM


def test_who_what_and_where_from_the_request(customer, operator):
    """The request gives the address and the browser (truncated); an operator acting on a
    customer is an operator; the customer is the subject, their label kept."""
    request = RequestFactory().get(
        "/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="A" * 2000, HTTP_X_REQUEST_ID="req-1"
    )
    entry = audit_record(
        action="customer.signed_out_everywhere", actor=operator, target=customer, request=request
    )
    assert entry.actor_kind == ActorKind.OPERATOR
    assert entry.subject == customer
    assert customer.email in entry.subject_label
    assert operator.email in entry.actor_label
    assert entry.ip == "203.0.113.5"
    assert len(entry.user_agent) == 512
    assert entry.request_id == "req-1"
    assert entry.target_id == str(customer.pk)
    assert entry.target_content_type.model_class() is type(customer)


def test_a_customer_acting_on_their_account_is_its_subject(customer):
    entry = audit_record(action="password.changed", actor=customer)
    assert (entry.actor_kind, entry.subject) == (ActorKind.CUSTOMER, customer)
    assert entry.ip is None


def test_the_domain_signal_is_sent_once_committed(customer, django_capture_on_commit_callbacks):
    """audit_recorded is sent on commit, with the entry; not before."""
    received = []

    def listener(sender, entry, **kwargs):
        received.append(entry)

    audit_recorded.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            entry = audit_record(action="profile.updated", actor=customer)
            assert received == []
        assert received == [entry]
    finally:
        audit_recorded.disconnect(listener)


def test_erasure_forgets_the_person_and_keeps_the_entry(customer, operator):
    """Entries about the customer lose the link, their name and the values; entries they
    made lose their address and browser too; an operator's entry about them keeps the
    operator."""
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Firefox")
    own = audit_record(
        action="email.added", actor=customer, changes={"email": customer.email}, request=request
    )
    by_operator = audit_record(
        action="admin.change", actor=operator, target=customer, changes={"message": "x"}
    )
    assert audit_erase(user=customer) == 3  # own (as subject and as actor), by_operator
    own.refresh_from_db()
    by_operator.refresh_from_db()
    assert own.subject_id is None
    assert own.actor_id is None
    assert own.subject_label == own.actor_label == f"Erased account #{customer.pk}"
    assert (own.ip, own.user_agent, own.changes, own.erased) == (None, "", {}, True)
    assert by_operator.actor == operator
    assert by_operator.target_repr == ""
    assert by_operator.changes == {}


@pytest.mark.parametrize(
    "key",
    [
        "csrfmiddlewaretoken",
        "newpassword",
        "accesstoken",
        "session_key",
        "code_verifier",
        "private_pem",
        "authorization",
        "access_key",
    ],
)
def test_secret_keys_in_one_word_or_unusual_names_are_redacted(key):
    """Secret words inside one-word keys, and other credential names, never reach the
    log; readable neighbours (postal_code, passkey_name) stay."""
    from audit.services import _is_secret_key

    assert _is_secret_key(key)
    assert not _is_secret_key("postal_code")
    assert not _is_secret_key("passkey_name")
    assert not _is_secret_key("tokens_only")
