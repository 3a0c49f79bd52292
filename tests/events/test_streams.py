"""The Redis Streams sink against a real redis-server: every committed event reaches a
consumer group exactly once and in order, a restart resumes after the last one written, a
crash repeats a batch (at-least-once, same id) but never skips one."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import redis
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from events.models import OutboxEvent, StreamCursor
from events.services.outbox import event_emit
from events.services.streams import stream_publish_pending, stream_publish_round
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GROUP = "analytics"


@pytest.fixture
def key() -> str:
    return f"ciam:test:{uuid.uuid4().hex}"


@pytest.fixture
def client(redis_url: str, key: str):
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    connection.xgroup_create(key, GROUP, id="0", mkstream=True)
    yield connection
    connection.delete(key)
    connection.close()


@pytest.fixture
def at_end(db):
    """The sink's cursor after everything written before the test (ids of earlier tests
    need not be contiguous: the first-run wait is tested on its own)."""
    probe = OutboxEvent.objects.create(type="user.enabled")
    StreamCursor.objects.update_or_create(name="redis-stream", defaults={"last_event_id": probe.pk})
    return probe


@pytest.fixture
def stream_settings(at_end, redis_url: str, key: str):
    with override_settings(
        CIAM_EVENTS_STREAM_URL=redis_url,
        CIAM_EVENTS_STREAM_KEY=key,
        CIAM_EVENTS_STREAM_GAP_SECONDS=5,
        CIAM_EVENTS_STREAM_BATCH=4,
    ):
        yield


def skip_to_now() -> None:
    """The cursor after every event written so far (a new customer writes its own)."""
    last = OutboxEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    StreamCursor.objects.update_or_create(name="redis-stream", defaults={"last_event_id": last})


def emit_some(count: int, *, move: bool = True) -> list[OutboxEvent]:
    users = [UserFactory(), UserFactory()]
    if move:
        skip_to_now()
    return [
        event_emit(type="user.signed_in", user=users[i % 2], data={"method": "password", "n": i})
        for i in range(count)
    ]


def read_all(client, key: str, consumer: str = "c1") -> list[dict[str, str]]:
    """Everything the group has not yet been given, acknowledged as read."""
    entries: list[dict[str, str]] = []
    while True:
        answer = client.xreadgroup(GROUP, consumer, {key: ">"}, count=3)
        if not answer:
            return entries
        for entry_id, fields in answer[0][1]:
            entries.append(fields)
            client.xack(key, GROUP, entry_id)


def test_a_consumer_group_reads_every_event_once_in_order(stream_settings, redis_url, client, key):
    """Ten events, published in batches of four: the group reads ten entries, in outbox
    order, each with the event's id, type, subject and its CloudEvents envelope."""
    events = emit_some(10)
    published = stream_publish_pending(client=_publisher(redis_url))
    assert published == 10
    entries = read_all(client, key)
    assert [entry["id"] for entry in entries] == [str(event.event_id) for event in events]
    assert [int(entry["outbox_id"]) for entry in entries] == [event.pk for event in events]
    first = json.loads(entries[0]["event"])
    assert first["specversion"] == "1.0"
    assert first["type"] == entries[0]["type"] == "com.ciam.user.signed_in.v1"
    assert first["subject"] == entries[0]["subject"] == events[0].user.public_id
    assert first["data"] == {"method": "password", "n": 0}
    assert read_all(client, key, consumer="c2") == []  # nothing given twice
    assert StreamCursor.objects.get().last_event_id == events[-1].pk


def _publisher(redis_url: str):
    return redis.Redis.from_url(redis_url)


def test_a_restart_resumes_after_the_cursor(stream_settings, redis_url, client, key):
    """The sink stopped after some events: a new process (new client) publishes only the
    ones written since."""
    first = emit_some(3)
    assert stream_publish_pending(client=_publisher(redis_url)) == 3
    later = emit_some(2)
    assert stream_publish_pending(client=_publisher(redis_url)) == 2
    assert stream_publish_pending(client=_publisher(redis_url)) == 0
    ids = [entry["id"] for entry in read_all(client, key)]
    assert ids == [str(event.event_id) for event in [*first, *later]]


def test_a_crash_before_the_cursor_moves_repeats_the_batch(
    stream_settings, redis_url, client, key, monkeypatch
):
    """Redis took the batch, the cursor did not move (the process died): the next run
    sends the same events again with the same ids; consumers dedupe on ``id``, nothing is
    skipped."""
    events = emit_some(3)

    def crash(*args, **kwargs):
        raise SystemExit("killed after XADD")

    monkeypatch.setattr("events.services.streams.StreamCursor.objects.filter", crash)
    with pytest.raises(SystemExit):
        stream_publish_round(client=_publisher(redis_url))
    monkeypatch.undo()
    assert stream_publish_pending(client=_publisher(redis_url)) == 3
    ids = [entry["id"] for entry in read_all(client, key)]
    assert len(ids) == 6
    expected = [str(event.event_id) for event in events]
    assert list(dict.fromkeys(ids)) == expected  # deduplicated by id: each once, in order


def age_gaps(seconds: float, field: str = "waiting") -> None:
    """Move the sink's clock: the gaps it saw were first seen ``seconds`` earlier."""
    cursor = StreamCursor.objects.get()
    gaps = [[low, high, seen - seconds] for low, high, seen in getattr(cursor, field)]
    StreamCursor.objects.filter(pk=cursor.pk).update(**{field: gaps})


def recreate(event: OutboxEvent) -> None:
    """The transaction that held ``event``'s id commits now."""
    OutboxEvent.objects.create(
        pk=event.pk,
        event_id=event.event_id,
        type=event.type,
        user=event.user,
        subject=event.subject,
        data=event.data,
    )


def test_a_gap_in_the_ids_waits_for_a_transaction_in_flight(
    stream_settings, redis_url, client, key
):
    """An id missing before a fresh event may be a transaction not yet committed: the sink
    stops before it, timed by its own clock from when it first saw the gap (an old
    created_at of the later event changes nothing); past CIAM_EVENTS_STREAM_GAP_SECONDS it
    goes on, and when the missing event commits later it is still published."""
    events = emit_some(3)
    OutboxEvent.objects.filter(pk=events[1].pk).delete()  # the id another transaction holds
    result = stream_publish_round(client=_publisher(redis_url))
    assert (result.published, result.waiting_for_gap) == (1, True)
    OutboxEvent.objects.filter(pk=events[2].pk).update(
        created_at=timezone.now() - timedelta(seconds=60)
    )
    assert stream_publish_round(client=_publisher(redis_url)).waiting_for_gap  # still waits
    age_gaps(10)
    assert stream_publish_pending(client=_publisher(redis_url)) == 1
    assert StreamCursor.objects.get().skipped[0][:2] == [events[1].pk, events[1].pk]
    recreate(events[1])  # a very slow commit
    assert stream_publish_pending(client=_publisher(redis_url)) == 1
    ids = [entry["id"] for entry in read_all(client, key)]
    assert ids == [str(events[0].event_id), str(events[2].event_id), str(events[1].event_id)]
    assert StreamCursor.objects.get().skipped == []


@override_settings(CIAM_EVENTS_STREAM_GAP_KEEP_SECONDS=60)
def test_a_skipped_id_is_watched_only_for_the_keep_time(stream_settings, redis_url, client, key):
    """After CIAM_EVENTS_STREAM_GAP_KEEP_SECONDS the sink stops looking for a skipped id."""
    events = emit_some(3)
    OutboxEvent.objects.filter(pk=events[1].pk).delete()
    stream_publish_round(client=_publisher(redis_url))
    age_gaps(10)
    stream_publish_pending(client=_publisher(redis_url))
    age_gaps(120, field="skipped")
    recreate(events[1])
    assert stream_publish_pending(client=_publisher(redis_url)) == 0
    assert StreamCursor.objects.get().skipped == []


def test_a_first_run_starts_from_zero(redis_url, client, key):
    """No cursor yet and the lowest id still in flight: the first run does not start at
    the first visible id (which would skip the lower one forever); it waits, and publishes
    the lower one first once it commits."""
    with override_settings(CIAM_EVENTS_STREAM_KEY=key, CIAM_EVENTS_STREAM_BATCH=500):
        StreamCursor.objects.all().delete()
        events = emit_some(3, move=False)
        OutboxEvent.objects.filter(pk=events[0].pk).delete()
        first = stream_publish_round(client=_publisher(redis_url))
        assert first.waiting_for_gap
        published = {entry["id"] for entry in read_all(client, key)}
        assert str(events[1].event_id) not in published
        recreate(events[0])
        age_gaps(10)  # ids of earlier tests below ours: gone for good
        stream_publish_pending(client=_publisher(redis_url))
        ids = [entry["id"] for entry in read_all(client, key)]
        assert ids[-3:] == [str(event.event_id) for event in events]


def test_two_sinks_never_move_the_cursor_backwards(stream_settings, redis_url, monkeypatch):
    """A slow sink that read the cursor before another one published a lot: its round
    repeats events (at-least-once) but leaves the cursor where the other one put it."""
    from events.services import streams

    stale = streams.stream_cursor()
    events = emit_some(10)
    assert stream_publish_pending(client=_publisher(redis_url)) == 10
    monkeypatch.setattr(streams, "stream_cursor", lambda name=streams.CURSOR_NAME: stale)
    result = stream_publish_round(client=_publisher(redis_url))
    assert result.conflict
    assert StreamCursor.objects.get().last_event_id == events[-1].pk


@override_settings(CIAM_EVENTS_STREAM_PURPOSES=["marketing"], CIAM_EVENTS_STREAM_SCOPES=["profile"])
def test_hidden_events_are_not_published_and_consent_is_read_once_per_user(
    stream_settings, redis_url, client, key, marketing, monkeypatch
):
    """An event the stream's projection hides (it requires a purpose not granted) is not
    appended, the cursor still goes past it; the ledger is asked once per user per batch."""
    from consent import selectors as consent_selectors
    from events.tags import requires, tagged

    from .conftest import grant

    user, other = UserFactory(), UserFactory()
    grant(user, marketing)
    skip_to_now()
    emitted = [
        event_emit(
            type="user.updated",
            user=user,
            data={"fields": {"style": tagged("rustic", scope="profile", purpose="marketing")}},
        ),
        event_emit(
            type="profile.field_collected",
            user=other,
            data={"field": "style", "_requires": requires(purpose="marketing")},
        ),
        event_emit(
            type="user.updated",
            user=user,
            data={"fields": {"style": tagged("modern", scope="profile", purpose="marketing")}},
        ),
    ]
    calls: list[object] = []
    real = consent_selectors.purposes_granted

    def counting(**kwargs):
        calls.append(kwargs["user"])
        return real(**kwargs)

    monkeypatch.setattr(consent_selectors, "purposes_granted", counting)
    with override_settings(CIAM_EVENTS_STREAM_BATCH=500):
        assert stream_publish_pending(client=_publisher(redis_url)) == 2
    assert len(calls) == 2  # one per user, not one per event
    entries = read_all(client, key)
    assert [entry["id"] for entry in entries] == [
        str(emitted[0].event_id),
        str(emitted[2].event_id),
    ]
    assert json.loads(entries[1]["event"])["data"]["fields"] == {"style": "modern"}
    assert StreamCursor.objects.get().last_event_id == emitted[-1].pk


def test_by_default_the_stream_carries_facts_only(stream_settings, redis_url, client, key):
    """No CIAM_EVENTS_STREAM_SCOPES/PURPOSES: tagged personal values are left out."""
    from events.tags import tagged

    user = UserFactory()
    event_emit(
        type="user.updated",
        user=user,
        data={"fields": {"email": tagged("a@example.com", scope="email")}, "changed": ["email"]},
    )
    stream_publish_pending(client=_publisher(redis_url))
    envelope = json.loads(read_all(client, key)[-1]["event"])
    assert envelope["data"] == {"fields": {}, "changed": ["email"]}


def test_the_stream_is_bounded(at_end, redis_url, client, key):
    """MAXLEN ~: a long outbox leaves a stream of about the bound, not all of it."""
    user = UserFactory()
    skip_to_now()
    OutboxEvent.objects.bulk_create(
        OutboxEvent(type="user.signed_in", user=user, subject=user.public_id, data={"n": i})
        for i in range(1500)
    )
    with override_settings(
        CIAM_EVENTS_STREAM_KEY=key, CIAM_EVENTS_STREAM_MAXLEN=100, CIAM_EVENTS_STREAM_BATCH=500
    ):
        assert stream_publish_pending(client=_publisher(redis_url)) == 1500
    assert client.xlen(key) < 500


def test_the_command_publishes_once(stream_settings, redis_url, client, key, capsys):
    """``manage.py events_stream --once`` publishes what is ready and exits."""
    emit_some(2)
    call_command("events_stream", "--once")
    assert "2 events published" in capsys.readouterr().out
    assert len(read_all(client, key)) == 2


def test_the_command_without_a_url_says_so():
    """No CIAM_EVENTS_STREAM_URL: a clear error, not a traceback."""
    from django.core.management import CommandError

    with override_settings(CIAM_EVENTS_STREAM_URL=""), pytest.raises(CommandError, match="URL"):
        call_command("events_stream", "--once")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_uncommitted_event_is_waited_for_on_postgresql(stream_settings, redis_url, client, key):
    """PostgreSQL: a transaction took id N and has not committed while N+1 did; the sink
    publishes nothing past N until N commits, then both, in id order."""
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL")
    user = UserFactory()
    stream_publish_pending(client=_publisher(redis_url))  # what the user's creation wrote
    read_all(client, key)
    inserted, release = threading.Event(), threading.Event()
    held: list[OutboxEvent] = []

    def slow_writer() -> None:
        from django.db import connection as thread_connection

        try:
            with transaction.atomic():
                held.append(event_emit(type="user.updated", user=user, data={"slow": True}))
                inserted.set()
                release.wait(10)
        finally:
            thread_connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert inserted.wait(10)
        fast = event_emit(type="user.enabled", user=user)
        assert fast.pk > held[0].pk
        result = stream_publish_round(client=_publisher(redis_url))
        assert result.published == 0
        assert result.waiting_for_gap
    finally:
        release.set()
        thread.join(10)
    assert stream_publish_pending(client=_publisher(redis_url)) == 2
    ids = [entry["id"] for entry in read_all(client, key)]
    assert ids == [str(held[0].event_id), str(fast.event_id)]
