"""On PostgreSQL several workers share the work (SELECT ... FOR UPDATE SKIP LOCKED), and a
worker killed mid-delivery loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from events.services.outbox import event_emit
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.services.worker import DeliveryWorker

from .conftest import run_worker, sign_in_emit, time_passes

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_never_send_the_same_delivery_twice(make_receiver, make_endpoint, settings):
    """Two workers on one backlog: every delivery is sent exactly once, and both took
    part."""
    settings.CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY = 8
    receiver = make_receiver(delay=0.05)
    make_endpoint(receiver.url)
    with transaction.atomic():
        events = [event_emit(type="user.signed_in", data={"n": n}) for n in range(60)]
    results: dict[str, int] = {}

    def work(name: str) -> None:
        try:
            stats = DeliveryWorker(concurrency=4, poll_seconds=0.02).run(once=True)
            results[name] = stats.attempts
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ids = receiver.ids()
    assert len(ids) == len(set(ids)) == 60
    assert set(ids) == {str(event.event_id) for event in events}
    assert results["a"] > 0
    assert results["b"] > 0
    assert results["a"] + results["b"] == 60
    assert set(Delivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}


def test_a_worker_killed_mid_delivery_loses_nothing(make_receiver, make_endpoint, customer):
    """A real worker process is killed (SIGKILL) while the receiver holds its request:
    nothing is recorded and the lease stays; once it lapses another worker delivers the
    event again with the same webhook-id."""
    receiver = make_receiver(hold=threading.Event())
    make_endpoint(receiver.url)
    event = sign_in_emit(customer)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"),
        "CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "1",
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "events_worker", "--poll", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        receiver.wait_for(1, timeout=60)
        assert len(receiver.received) == 1, process.stderr.read() if process.poll() else ""
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    receiver.hold.set()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.lease_until is not None
    assert not DeliveryAttempt.objects.exists()
    run_worker()  # the lease still holds: not sent again yet
    assert len(receiver.received) == 1
    time_passes()
    run_worker()
    assert receiver.ids() == [str(event.event_id)] * 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
