"""One slow or failing endpoint never delays the others; the worker stops cleanly."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.core.management import call_command

from tests.factories import UserFactory
from webhooks.models import Delivery
from webhooks.services.worker import DeliveryWorker

from .conftest import sign_in_emit

pytestmark = pytest.mark.django_db


def test_a_slow_endpoint_does_not_delay_another(make_receiver, make_endpoint, settings):
    """A receiver that takes 1 s per request holds at most its per-endpoint share of the
    worker; events for another endpoint, including ones that arrive while the slow one is
    busy, are delivered at once."""
    settings.CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY = 1
    slow = make_receiver(delay=1.0)
    fast = make_receiver()
    make_endpoint(slow.url, name="Slow")
    make_endpoint(fast.url, name="Fast", event_types=["user.signed_in", "user.signed_out"])
    users = [UserFactory() for _ in range(3)]
    for user in users:
        sign_in_emit(user)

    class EventsArriveMeanwhile(DeliveryWorker):
        claims = 0
        arrived_at = 0.0

        def _claim(self, free: int):
            self.claims += 1
            if self.claims == 3:  # the slow endpoint is busy: more events arrive
                from django.db import transaction

                from events.services.outbox import event_emit

                with transaction.atomic():
                    for user in users:
                        event_emit(type="user.signed_out", user=user, data={})
                self.arrived_at = time.monotonic()
            return super()._claim(free)

    worker = EventsArriveMeanwhile(concurrency=4, poll_seconds=0.05)
    started = time.monotonic()
    worker.run(once=True)
    assert len(slow.received) == 3
    assert len(fast.received) == 6
    assert slow.max_in_flight == 1
    # The fast endpoint's events, those that arrived meanwhile included, were all delivered
    # while the slow one was still busy with its own (one at a time, 1 s each).
    last_fast = max(item.at for item in fast.received)
    assert worker.arrived_at
    assert worker.arrived_at < last_fast < max(item.at for item in slow.received)
    assert max(item.at for item in slow.received) - started >= 2.0
    assert Delivery.objects.filter(status="succeeded").count() == 9


def test_per_endpoint_cap_holds_with_many_subjects(make_receiver, make_endpoint, settings):
    """With 8 threads and a cap of 2, never more than 2 requests reach one endpoint at once."""
    settings.CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY = 2
    slow = make_receiver(delay=0.2)
    make_endpoint(slow.url)
    for _ in range(6):
        sign_in_emit(UserFactory())
    DeliveryWorker(concurrency=8, poll_seconds=0.02).run(once=True)
    assert len(slow.received) == 6
    assert slow.max_in_flight == 2


def test_sigterm_finishes_the_delivery_in_flight(make_receiver, make_endpoint, customer):
    """SIGTERM while a request is in flight: the worker waits for its answer, records it,
    and exits; nothing is left claimed."""
    receiver = make_receiver(delay=0.8)
    make_endpoint(receiver.url)
    sign_in_emit(customer)

    def terminate() -> None:
        receiver.wait_for(1)
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=terminate)
    thread.start()
    call_command("events_worker", "--poll", "0.05", "--concurrency", "2")
    thread.join()
    assert signal.getsignal(signal.SIGTERM) == previous
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.lease_until) == ("succeeded", None)
