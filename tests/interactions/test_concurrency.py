"""The same batch sent twice at once (a retrying sender): every key is stored once, each
answer names it stored or duplicate, and one outbox event exists per interaction."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from events.models import OutboxEvent
from interactions.models import Interaction

from .conftest import item

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
    ),
    pytest.mark.django_db(transaction=True),
]


def test_concurrent_replays_store_each_key_once(customer, post_batch):
    """Four copies of one batch posted in parallel: 50 rows, 50 events, and over the four
    answers each key is "stored" exactly once and "duplicate" otherwise."""
    items = [item("page_view", user=customer) for _ in range(50)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: post_batch(items), range(4)))
    assert [r.status_code for r in responses] == [200] * 4, [r.text[:200] for r in responses]
    stored: dict[str, int] = {}
    for response in responses:
        for result in response.json()["results"]:
            assert result["status"] in ("stored", "duplicate"), result
            if result["status"] == "stored":
                stored[result["idempotency_key"]] = stored.get(result["idempotency_key"], 0) + 1
    assert set(stored.values()) == {1}
    assert len(stored) == 50
    assert Interaction.objects.count() == 50
    assert OutboxEvent.objects.filter(type="interaction.recorded").count() == 50


def test_items_stored_while_the_visitor_is_identified_are_linked(
    customer, post_batch, sender, issuer
):
    """An ingest batch under a visitor id, still uncommitted while identify links that id,
    is not left anonymous: identify waits for the batch's lock on the visitor row, then
    links its items."""
    import threading

    from events.signals import event_written

    started = threading.Event()
    done: dict[str, object] = {}

    def identify() -> None:
        done["response"] = sender.post(
            issuer + "/api/interactions/identify",
            json={"anonymous_id": "v-race", "user": {"email": customer.email}},
            timeout=10,
        )

    def hold(**kwargs: object) -> None:
        if not started.is_set():
            started.set()
            thread = threading.Thread(target=identify)
            thread.start()
            thread.join(timeout=1.5)  # without the lock identify finishes here, too early
            done["thread"] = thread

    event_written.connect(hold, weak=False)
    try:
        response = post_batch([item("page_view", anonymous_id="v-race")])
    finally:
        event_written.disconnect(hold)
    assert response.status_code == 200, response.text
    thread = done["thread"]
    assert isinstance(thread, threading.Thread)
    thread.join(timeout=10)
    assert done["response"].status_code == 200  # type: ignore[attr-defined]
    assert Interaction.objects.get().user == customer
