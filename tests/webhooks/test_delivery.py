"""Standard Webhooks deliveries: signatures, retries, ordering, 410, dead letter, replay,
leases of dead workers, the SSRF guard."""

from __future__ import annotations

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from events.services.outbox import event_emit
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint
from webhooks.services.deliveries import (
    deliveries_claim,
    delivery_cancel,
    delivery_replay,
    endpoint_enable,
)
from webhooks.services.secrets import endpoint_secret_rotate

from .conftest import run_worker, time_passes

pytestmark = pytest.mark.django_db


def test_signature_verifies_with_standardwebhooks(receiver, make_endpoint, emit, customer):
    """The receiver verifies the delivery with the Standard Webhooks library: webhook-id is
    the event's id, the body its CloudEvents envelope."""
    endpoint = make_endpoint(receiver.url)
    event = emit(customer)
    stats = run_worker()
    assert stats.by_status == {"succeeded": 1}
    (got,) = receiver.received
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert got.webhook_id == str(event.event_id)
    assert payload["id"] == str(event.event_id)
    assert payload["specversion"] == "1.0"
    assert payload["type"] == "com.ciam.user.signed_in.v1"
    assert payload["subject"] == customer.public_id
    assert payload["data"]["method"] == "password"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("CIAM-Webhooks/")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code == 200
    assert attempt.response_excerpt == '{"ok": true}'
    # A wrong secret does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(got.body, got.headers)


def test_retries_then_success_keep_the_same_webhook_id(receiver, make_endpoint, emit, customer):
    """500 and 503 are retried on the schedule; the success carries the same webhook-id
    as the failures, and every attempt is logged with its status."""
    make_endpoint(receiver.url)
    receiver.statuses = [500, 503]
    event = emit(customer)
    run_worker()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at > delivery.created_at
    run_worker()  # not due yet: nothing sent
    assert len(receiver.received) == 1
    for _ in range(2):
        time_passes()
        run_worker()
    assert receiver.ids() == [str(event.event_id)] * 3
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    codes = list(delivery.log.order_by("started_at", "id").values_list("status_code", flat=True))
    assert codes == [500, 503, 200]


def test_receiver_down_for_minutes_then_up_gets_everything_in_order(
    receiver, make_endpoint, customer
):
    """While the receiver is down (connections refused) only the first event of each
    subject is tried, the later ones wait; once it is up every event arrives, each subject's
    in the order they happened, none lost."""
    from tests.factories import UserFactory

    from .conftest import sign_in_emit

    other = UserFactory()
    make_endpoint(receiver.url)
    receiver.stop()  # down
    events = []
    for index in range(4):
        events.append(sign_in_emit(customer, acr=str(index)))
        events.append(sign_in_emit(other, acr=str(index)))
    for _ in range(3):  # three rounds of "minutes" pass while it is down
        run_worker()
        time_passes()
    attempted = set(
        DeliveryAttempt.objects.values_list("delivery__event__event_id", flat=True).distinct()
    )
    assert attempted == {events[0].event_id, events[1].event_id}
    assert DeliveryAttempt.objects.filter(status_code__isnull=True).count() == 6
    receiver.start()  # up again, same port
    time_passes()
    run_worker()
    assert Delivery.objects.filter(status="succeeded").count() == 8
    ids = receiver.ids()
    assert sorted(ids) == sorted(str(event.event_id) for event in events)
    for user in (customer, other):
        theirs = [str(e.event_id) for e in events if e.user_id == user.pk]
        assert [i for i in ids if i in theirs] == theirs


def test_a_dead_workers_delivery_is_sent_again_when_its_lease_lapses(
    receiver, make_endpoint, emit, customer
):
    """A worker claimed a delivery and died before recording anything: while its lease
    lasts nobody else sends it; once it lapses the delivery is sent, with the same
    webhook-id, and the event is not lost."""
    make_endpoint(receiver.url)
    event = emit(customer)
    (_claim,) = deliveries_claim(limit=10)  # the worker that dies
    run_worker()
    assert receiver.received == []
    time_passes()  # the lease lapses
    run_worker()
    assert receiver.ids() == [str(event.event_id)]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert delivery.lease_until is None


def test_410_disables_the_endpoint_and_parks_its_deliveries(
    receiver, make_endpoint, emit, customer
):
    """410 Gone disables the endpoint with the reason kept; its deliveries wait (pending,
    not sent) and are delivered once an operator enables it again."""
    endpoint = make_endpoint(receiver.url)
    receiver.statuses = [410]
    first = emit(customer)
    run_worker()
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert "410" in endpoint.disabled_reason
    assert endpoint.disabled_at is not None
    assert Delivery.objects.get().status == DeliveryStatus.PENDING
    emit(customer)  # no delivery for a disabled endpoint
    assert Delivery.objects.count() == 1
    time_passes()
    run_worker()
    assert len(receiver.received) == 1
    endpoint_enable(endpoint=endpoint)
    run_worker()
    assert receiver.ids() == [str(first.event_id)] * 2
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_dead_letter_after_the_last_retry(receiver, make_endpoint, emit, customer, settings):
    """After the first attempt and every retry of the schedule failed, the delivery is
    failed (dead letter) and no longer tried."""
    settings.CIAM_WEBHOOKS_RETRY_SCHEDULE = [1, 1]
    make_endpoint(receiver.url)
    receiver.default_status = 500
    emit(customer)
    for _ in range(5):
        run_worker()
        time_passes()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert len(receiver.received) == 3


def test_replay_sends_again_with_the_same_webhook_id(receiver, make_endpoint, emit, customer):
    """Replay of a succeeded (or dead-letter) delivery sends it again now, same webhook-id;
    cancel gives up a pending one."""
    make_endpoint(receiver.url)
    event = emit(customer)
    run_worker()
    delivery = Delivery.objects.get()
    assert delivery_replay(delivery=delivery)
    run_worker()
    assert receiver.ids() == [str(event.event_id)] * 2
    receiver.default_status = 500
    second = emit(customer)
    pending = Delivery.objects.get(event=second)
    assert delivery_cancel(delivery=pending)
    run_worker()
    assert len(receiver.received) == 2
    assert Delivery.objects.get(pk=pending.pk).status == "cancelled"


def test_rotated_secret_signs_with_both_during_grace(receiver, make_endpoint, emit, customer):
    """After a rotation each delivery carries two signatures; a receiver with either secret
    verifies it."""
    endpoint = make_endpoint(receiver.url)
    old_secret = endpoint.secret
    new_secret = endpoint_secret_rotate(endpoint=endpoint)
    emit(customer)
    run_worker()
    (got,) = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(got.body, got.headers)
    Webhook(new_secret).verify(got.body, got.headers)


def test_deliveries_are_written_with_the_event_and_only_for_matching_endpoints(
    receiver, make_endpoint, customer
):
    """A rolled-back event has no delivery; endpoints get only the types they chose."""
    make_endpoint(receiver.url, event_types=["user.*"])
    make_endpoint(receiver.url, name="Consent only", event_types=["consent.granted"])

    def change_that_fails() -> None:
        with transaction.atomic():
            event_emit(type="user.signed_in", user=customer, data={"method": "password"})
            assert Delivery.objects.count() == 1
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert Delivery.objects.count() == 0
    event = event_emit(type="user.signed_in", user=customer, data={"method": "password"})
    assert list(Delivery.objects.values_list("endpoint__name", "event")) == [("CRM", event.pk)]


def test_nothing_it_may_see_is_skipped(receiver, make_endpoint, customer):
    """An event that needs a purpose the endpoint was not given is skipped, not sent."""
    from events.tags import requires

    make_endpoint(receiver.url)
    event_emit(
        type="user.signed_in",
        user=customer,
        data={"method": "password", "_requires": requires(purpose="marketing")},
    )
    run_worker()
    assert receiver.received == []
    assert Delivery.objects.get().status == "skipped"


def test_ssrf_guard_refuses_loopback_unless_allowed(
    receiver, make_endpoint, emit, customer, settings
):
    """Without CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES a loopback receiver is never called:
    the attempt is logged as refused and retried later."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    make_endpoint(receiver.url)
    emit(customer)
    run_worker()
    assert receiver.received == []
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None
    assert "refused" in attempt.error
    assert "loopback" in attempt.error
    assert Delivery.objects.get().status == "pending"


def test_an_unknown_kind_or_failing_formatter_is_a_failed_attempt(
    receiver, make_endpoint, emit, customer, settings
):
    """A formatter that cannot be loaded is logged as a failed attempt and retried, never a
    crash of the worker."""
    settings.CIAM_WEBHOOKS_FORMATTERS = {"webhook": "webhooks.nowhere.formatter"}
    make_endpoint(receiver.url)
    emit(customer)
    stats = run_worker()
    assert stats.attempts == 1
    assert DeliveryAttempt.objects.get().error.startswith("formatter")
    assert Delivery.objects.get().status == "pending"
    assert Endpoint.objects.get().active


def test_fan_out_writes_for_active_and_held_endpoints_only(receiver, make_endpoint, emit, customer):
    """Each event gets a delivery for every active endpoint and for every endpoint that is
    off but holding its deliveries (a paused Shared Signals stream), none for one that is
    just off; endpoints added or changed after earlier events count at once (the fan-out's
    query is compiled once, its rows are read with every event). Held deliveries are not
    sent while the endpoint is off."""
    emit(customer)  # compiles the fan-out's query before the endpoints exist
    active = make_endpoint(receiver.url)
    held = make_endpoint(receiver.url)
    off = make_endpoint(receiver.url)
    Endpoint.objects.filter(pk=held.pk).update(active=False, held=True)
    Endpoint.objects.filter(pk=off.pk).update(active=False)
    event = emit(customer)
    owed = Delivery.objects.filter(event=event)
    assert sorted(owed.values_list("endpoint_id", flat=True)) == sorted([active.pk, held.pk])
    run_worker()
    assert receiver.ids() == [str(event.event_id)]
    assert owed.get(endpoint=held).status == DeliveryStatus.PENDING
    Endpoint.objects.filter(pk=held.pk).update(event_types=["consent.*"])
    assert not Delivery.objects.filter(event=emit(customer), endpoint=held).exists()
