"""The outbox: an event is written in the transaction of its change, never without it, and
the catalogue names every type with its CloudEvents type string."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from events.catalogue import EVENT_TYPES, cloudevents_type, event_types_matching
from events.models import OutboxEvent
from events.services.outbox import event_emit
from events.signals import event_committed, event_written
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_a_rolled_back_change_leaves_no_event(customer):
    """A change and its event inside transaction.atomic that raises: neither is kept."""
    before = OutboxEvent.objects.count()

    def change_and_fail() -> None:
        with transaction.atomic():
            type(customer).objects.filter(pk=customer.pk).update(is_active=False)
            event_emit(type="user.disabled", user=customer, data={"actor": "operator"})
            raise Boom

    with pytest.raises(Boom):
        change_and_fail()
    assert OutboxEvent.objects.count() == before
    assert type(customer).objects.get(pk=customer.pk).is_active


@pytest.mark.django_db(transaction=True)
def test_a_committed_change_has_exactly_one_event_and_signals_in_order(customer):
    """event_written is sent inside the transaction (the row is visible to it, nothing
    committed yet); event_committed once, after the commit."""
    seen: list[tuple[str, bool]] = []

    def written(sender, event, **kwargs):
        seen.append(("written", transaction.get_connection().in_atomic_block))

    def committed(sender, event, **kwargs):
        seen.append(("committed", transaction.get_connection().in_atomic_block))

    event_written.connect(written, dispatch_uid="test.written")
    event_committed.connect(committed, dispatch_uid="test.committed")
    try:
        with transaction.atomic():
            event = event_emit(type="user.enabled", user=customer, data={"actor": "operator"})
            assert seen == [("written", True)]
        assert seen == [("written", True), ("committed", False)]
    finally:
        event_written.disconnect(dispatch_uid="test.written")
        event_committed.disconnect(dispatch_uid="test.committed")
    assert list(OutboxEvent.objects.filter(type="user.enabled", user=customer)) == [event]
    assert event.subject == customer.public_id
    assert isinstance(event.event_id, uuid.UUID)


def test_a_failing_committed_receiver_harms_nothing(customer, django_capture_on_commit_callbacks):
    """event_committed is robust: a receiver that raises is logged, the event stays."""

    def broken(sender, event, **kwargs):
        raise RuntimeError("monitor down")

    event_committed.connect(broken, dispatch_uid="test.broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event_emit(type="user.enabled", user=customer)
    finally:
        event_committed.disconnect(dispatch_uid="test.broken")
    assert OutboxEvent.objects.filter(type="user.enabled").count() == 1


def test_an_unknown_type_is_refused(customer):
    """Only catalogue types are written."""
    with pytest.raises(ValueError, match="Unknown event type"):
        event_emit(type="user.teleported", user=customer)
    assert not OutboxEvent.objects.filter(type="user.teleported").exists()


def test_data_is_stored_as_json_types(customer):
    """Dates and UUIDs in data are stored as strings (what the envelope will carry)."""
    from django.utils import timezone

    now = timezone.now()
    event = event_emit(
        type="user.updated", user=customer, data={"at": now, "ref": uuid.UUID(int=1)}
    )
    event.refresh_from_db()
    assert event.data["ref"] == "00000000-0000-0000-0000-000000000001"
    assert isinstance(event.data["at"], str)


def test_catalogue_types_and_patterns():
    """Every type has a version, a label and a description; patterns select families;
    the CloudEvents type is com.ciam.<key>.v<version>."""
    required = {
        "user.created", "user.verified", "user.updated", "user.deleted", "user.disabled",
        "user.enabled", "user.signed_in", "user.signed_out", "session.revoked",
        "consent.granted", "consent.withdrawn", "client.authorized", "client.revoked",
        "profile.field_collected", "credential.added", "credential.removed",
        "credential.changed", "credential.compromised", "risk.challenged",
        "assurance.changed", "interaction.recorded",
    }  # fmt: skip
    assert required <= set(EVENT_TYPES)
    for entry in EVENT_TYPES.values():
        assert entry.version >= 1
        assert str(entry.label)
        assert str(entry.description)
    assert cloudevents_type("user.signed_in", 1) == "com.ciam.user.signed_in.v1"
    assert EVENT_TYPES["user.signed_in"].cloudevents_type == "com.ciam.user.signed_in.v1"
    assert event_types_matching(["*"]) == set(EVENT_TYPES)
    assert event_types_matching(["user.*"]) == {k for k in EVENT_TYPES if k.startswith("user.")}
    assert event_types_matching(["consent.granted", "nope", ""]) == {"consent.granted"}


def test_labels_are_lazy_translations():
    """Labels are translatable strings, read in the active language (English here)."""
    from django.utils import translation

    with translation.override("en"):
        assert str(EVENT_TYPES["user.signed_in"].label) == "User signed in"


def test_emit_many_writes_one_insert_and_signals_each_event(
    customer, django_capture_on_commit_callbacks
):
    """event_emit_many: one INSERT for the batch, ids returned, event_written per event in
    order inside the transaction, event_committed for each after the commit."""
    from events.services.outbox import event_emit_many

    written: list[int] = []
    committed: list[int] = []
    event_written.connect(
        lambda sender, event, **kw: written.append(event.pk),
        weak=False,
        dispatch_uid="test.many.written",
    )
    event_committed.connect(
        lambda sender, event, **kw: committed.append(event.pk),
        weak=False,
        dispatch_uid="test.many.committed",
    )
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            events = event_emit_many(
                items=[
                    {"type": "interaction.recorded", "user": customer, "data": {"n": 1}},
                    {"type": "interaction.recorded", "user": None, "data": {"n": 2}},
                ]
            )
            assert written == [event.pk for event in events]
            assert committed == []
    finally:
        event_written.disconnect(dispatch_uid="test.many.written")
        event_committed.disconnect(dispatch_uid="test.many.committed")
    assert all(event.pk for event in events)
    assert len(callbacks) == 1
    assert committed == written
    assert events[0].subject == customer.public_id
    assert events[1].subject == ""
    with pytest.raises(ValueError, match="Unknown event type"):
        event_emit_many(items=[{"type": "interaction.recorded"}, {"type": "user.teleported"}])


def test_anonymous_events_attached_to_a_customer_are_forgotten_with_them(customer):
    """events_user_attach gives anonymous events their customer (and public subject), so
    erasure finds them; events naming someone else are left alone."""
    from events.services.outbox import events_user_attach
    from events.tags import tagged

    anonymous = event_emit(
        type="interaction.recorded", data={"reference": tagged("ref-1", scope="profile")}
    )
    other = event_emit(type="interaction.recorded", user=UserFactory(), data={})
    assert events_user_attach(event_pks=[anonymous.pk, other.pk], user=customer) == 1
    anonymous.refresh_from_db()
    assert (anonymous.user_id, anonymous.subject) == (customer.pk, customer.public_id)
    customer.delete()
    anonymous.refresh_from_db()
    assert anonymous.data == {}
