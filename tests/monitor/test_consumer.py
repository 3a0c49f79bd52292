"""The monitor's WebSocket: who may connect, the snapshot, live messages."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Permission
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console.monitor import consumers
from console.monitor.access import monitor_ticket
from console.monitor.consumers import CLOSE_FORBIDDEN, CLOSE_INTERNAL_ERROR, CLOSE_TOO_MANY
from console.monitor.publisher import publisher, subject_hash
from console.monitor.selectors import monitor_snapshot
from events.services.outbox import event_emit
from tests.factories import UserFactory

from .helpers import WS_PATH, close_code, hello, operator, run_async, session_of, socket

# Channels closes connections around every database_sync_to_async call (close_old_connections):
# inside a test transaction that would close the test's own connection on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)
PERMISSION_CODENAME = "view_live_monitor"


def _refused_with(*, ticket: str | None = None, **kwargs: Any) -> int | None:
    """The close code of a socket opened with ``socket(**kwargs)`` and saying hello with
    ``ticket`` (the page's ticket of that session when None)."""

    async def scenario() -> int | None:
        communicator = socket(**kwargs)
        assert await hello(communicator, ticket=ticket, **kwargs)
        return await close_code(communicator)

    return run_async(scenario)


def test_anonymous_socket_is_closed_with_4403():
    """Without a session the socket is accepted and closed at once with 4403 (the page stops
    reconnecting on that code)."""
    assert _refused_with(ticket="x") == CLOSE_FORBIDDEN


def test_customer_and_staff_without_permission_are_refused():
    """A signed-in customer, and staff without "monitor.view_live_monitor", get 4403 even
    with a valid ticket of their own session."""
    customer = UserFactory(email="customer@example.com")
    staff = operator(permitted=False, email="staff@example.com")
    for user in (customer, staff):
        key = session_of(user)
        assert _refused_with(session_key=key, user=user) == CLOSE_FORBIDDEN


def test_a_forged_ticket_or_one_of_another_session_is_refused():
    """The page's ticket is bound to its session: an empty ticket, a forged one or the
    ticket of another session of the same operator are all refused."""
    user = operator()
    key, other_key = session_of(user), session_of(user)
    other_ticket = monitor_ticket(user=user, session_key=other_key)
    for ticket in ("", "forged:ticket", other_ticket):
        assert _refused_with(session_key=key, ticket=ticket) == CLOSE_FORBIDDEN


def test_no_hello_or_a_ticket_in_the_url_is_refused(settings):
    """A socket that sends no hello within CIAM_MONITOR_HELLO_SECONDS is closed with 4403,
    even with a valid ticket in the query string (never read there); a first message that
    is not the hello is refused at once."""
    settings.CIAM_MONITOR_HELLO_SECONDS = 0.3
    user = operator()
    key = session_of(user)
    ticket = monitor_ticket(user=user, session_key=key)

    async def scenario() -> tuple[int | None, float, int | None]:
        silent = socket(session_key=key, path=f"{WS_PATH}?ticket={ticket}")
        connected, _ = await silent.connect(timeout=5)
        assert connected
        started = time.monotonic()
        silent_code = await close_code(silent)
        waited = time.monotonic() - started
        chatty = socket(session_key=key)
        connected, _ = await chatty.connect(timeout=5)
        assert connected
        await chatty.send_json_to({"kind": "snapshot", "ticket": ticket})
        return silent_code, waited, await close_code(chatty)

    silent_code, waited, chatty_code = run_async(scenario)
    assert silent_code == CLOSE_FORBIDDEN
    assert waited < 3
    assert chatty_code == CLOSE_FORBIDDEN


def test_an_expired_ticket_is_refused(monkeypatch):
    """A ticket older than CIAM_MONITOR_TICKET_SECONDS (60 s) no longer opens a socket."""
    user = operator()
    key = session_of(user)
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - 61)
    old = monitor_ticket(user=user, session_key=key)
    monkeypatch.undo()
    assert _refused_with(session_key=key, ticket=old) == CLOSE_FORBIDDEN


def test_foreign_origin_is_refused_at_the_handshake():
    """A page of another site cannot open the socket with the operator's cookie (the Origin
    must be one of ALLOWED_HOSTS)."""
    user = operator()
    key = session_of(user)

    async def scenario() -> bool:
        communicator = socket(session_key=key, origin=b"https://evil.example")
        connected, _code = await communicator.connect(timeout=5)
        return connected

    assert run_async(scenario) is False


def _emit(type_: str, user: Any, **data: Any) -> Any:
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        return event_emit(type=type_, user=user, data=data)


async def _open(user: Any, key: str) -> Any:
    """An allowed socket, past its first snapshot (returned as ``first``)."""
    communicator = socket(session_key=key, user=user)
    assert await hello(communicator, user=user, session_key=key)
    communicator.first = await communicator.receive_json_from(timeout=5)
    assert communicator.first["kind"] == "snapshot"
    return communicator


def test_snapshot_on_connect_counts_the_window():
    """An allowed operator gets a snapshot at once: sign-ins per minute by method, sign-ups,
    challenges and consent changes of the window, the webhook backlog, and the highest
    outbox order it counted."""
    from webhooks.models import Endpoint
    from webhooks.selectors import delivery_backlog

    user = operator()
    key = session_of(user)
    customer = UserFactory(email="ana@example.com")
    Endpoint.objects.create(name="CRM", url="https://crm.example/hook", event_types=["*"])
    before = monitor_snapshot()
    _emit("user.signed_in", customer, method="passkey")
    _emit("user.signed_in", customer, method="passkey")
    _emit("user.signed_in", customer, method="social:google")
    _emit("risk.challenged", customer, action="step_up")
    last = _emit("consent.withdrawn", customer, purpose="marketing")
    _emit("user.created", None, source="signup")
    _emit("user.updated", customer)  # not counted: not in through_seq either

    async def scenario() -> dict[str, Any]:
        communicator = await _open(user, key)
        await communicator.disconnect()
        return communicator.first

    snapshot = run_async(scenario)
    counters, earlier = snapshot["counters"], before["counters"]
    assert snapshot["kind"] == "snapshot"
    assert snapshot["window_minutes"] == 15
    assert len(snapshot["minutes"]) == 15
    # Summed over the window: a minute may have begun between two emits.
    assert sum(snapshot["sign_ins_by_method"]["passkey"]) == 2
    assert sum(snapshot["sign_ins_by_method"]["social:google"]) == 1
    assert counters["sign_ins"] == earlier["sign_ins"] + 3
    assert counters["challenges"] == earlier["challenges"] + 1
    assert counters["consent_changes"] == earlier["consent_changes"] + 1
    assert counters["sign_ups"] == earlier["sign_ups"] + 1
    backlog = delivery_backlog()
    assert backlog >= 7
    assert snapshot["webhook_backlog"] == backlog
    assert snapshot["through_seq"] == last.pk + 1  # the user.created after it
    assert "ana@example.com" not in repr(snapshot)


def test_committed_event_reaches_the_socket_without_personal_data(settings):
    """After an event_emit commits, the socket receives its type, time, order, method and a
    short subject hash; never the email or the name."""
    user = operator()
    key = session_of(user)
    customer = UserFactory(email="maria@example.com", given_name="Maria")

    async def scenario() -> dict[str, Any]:
        communicator = await _open(user, key)
        event = await database_sync_to_async(_emit)(
            "user.signed_in", customer, method="email_code", email="maria@example.com"
        )
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return {"event": event, "message": message, "first": communicator.first}

    result = run_async(scenario)
    message, event = result["message"], result["event"]
    assert message["kind"] == "event"
    assert message["event"]["id"] == str(event.event_id)
    assert message["event"]["seq"] == event.pk > result["first"]["through_seq"]
    assert message["event"]["type"] == "user.signed_in"
    assert message["event"]["method"] == "email_code"
    assert message["event"]["subject"] == subject_hash(event.subject, event.time.date())
    assert len(message["event"]["subject"]) == 8
    assert "maria" not in repr(message).lower()


def _closed_after(settings: Any, change: Any) -> int | None:
    """Open an allowed socket (re-checked every 0.2 s), see a periodic snapshot, apply
    ``change(user, key)`` in the database; the close code that follows."""
    settings.CIAM_MONITOR_SNAPSHOT_SECONDS = 0.2
    user = operator(email=f"operator-{uuid.uuid4().hex[:8]}@example.com")
    key = session_of(user)

    async def scenario() -> int | None:
        communicator = await _open(user, key)
        assert (await communicator.receive_json_from(timeout=5))["kind"] == "snapshot"
        await database_sync_to_async(change)(user, key)
        return await close_code(communicator)

    return run_async(scenario)


def test_periodic_snapshot_and_permission_withdrawn(settings):
    """The socket gets a fresh snapshot every CIAM_MONITOR_SNAPSHOT_SECONDS, and is closed
    with 4403 at the next one once the operator lost the permission."""

    def withdraw(user: Any, key: str) -> None:
        user.user_permissions.remove(
            Permission.objects.get(content_type__app_label="monitor", codename=PERMISSION_CODENAME)
        )

    assert _closed_after(settings, withdraw) == CLOSE_FORBIDDEN


def test_staff_status_withdrawn_closes_the_socket(settings):
    """No longer staff (or disabled): the open socket is closed with 4403."""

    def demote(user: Any, key: str) -> None:
        type(user)._default_manager.filter(pk=user.pk).update(is_staff=False)

    assert _closed_after(settings, demote) == CLOSE_FORBIDDEN


def test_signing_out_closes_an_open_socket(settings):
    """Signing out in the browser (the session deleted) closes the socket that session
    opened, at the next re-check."""
    from django.conf import settings as django_settings
    from django.test import Client

    def sign_out(user: Any, key: str) -> None:
        client = Client()
        client.cookies[django_settings.SESSION_COOKIE_NAME] = key
        client.logout()

    assert _closed_after(settings, sign_out) == CLOSE_FORBIDDEN


def test_ended_browser_session_or_new_password_closes_the_socket(settings):
    """The session record ended elsewhere (sessions_ctx: "sign out this device"), or a
    password change (the session's auth hash no longer matches), closes the socket."""
    from django.utils import timezone

    from sessions_ctx.models import BrowserSession

    def end(user: Any, key: str) -> None:
        BrowserSession.objects.filter(user_id=user.pk).update(ended_at=timezone.now())

    def new_password(user: Any, key: str) -> None:
        user.set_password("another long password 42")
        user.save(update_fields=["password"])

    assert _closed_after(settings, end) == CLOSE_FORBIDDEN
    assert _closed_after(settings, new_password) == CLOSE_FORBIDDEN


def test_a_failing_recheck_closes_and_stale_sockets_get_no_live_message(settings, monkeypatch):
    """A re-check that raises closes the socket (1011), never keeps it open; while a check
    is overdue (older than two intervals) live messages are not sent."""
    from channels.layers import get_channel_layer

    settings.CIAM_MONITOR_SNAPSHOT_SECONDS = 0.2
    user = operator()
    key = session_of(user)
    real = consumers.monitor_session_user
    calls: list[int] = []

    def slow_then_broken(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            return real(**kwargs)  # the handshake
        time.sleep(1.0)  # the re-check hangs (a database stuck), then fails
        raise RuntimeError("database gone")

    monkeypatch.setattr(consumers, "monitor_session_user", slow_then_broken)

    async def scenario() -> list[dict[str, Any]]:
        import asyncio

        communicator = await _open(user, key)
        await asyncio.sleep(0.7)  # the re-check started 0.2 s in and hangs: now stale
        event = {"id": "e1", "seq": 10**9, "type": "user.created", "time": "2026-01-01T00:00:00Z"}
        await get_channel_layer().group_send("monitor", {"type": "monitor.event", "event": event})
        seen = []
        while True:
            output = await communicator.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                seen.append({"close": output.get("code")})
                return seen
            seen.append(output)

    seen = run_async(scenario)
    assert seen == [{"close": CLOSE_INTERNAL_ERROR}]


def test_snapshot_requests_are_limited_and_shared(settings, monkeypatch):
    """A page asking for snapshots in a loop gets at most one per interval, and the sockets
    of a process share one snapshot per interval (one count for all)."""
    from console.monitor import selectors

    settings.CIAM_MONITOR_SNAPSHOT_SECONDS = 600
    user = operator()
    key = session_of(user)
    counted: list[int] = []
    real = selectors.monitor_snapshot

    def counting(**kwargs: Any) -> dict[str, Any]:
        counted.append(1)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "monitor_snapshot", counting)

    async def scenario() -> bool:
        first = await _open(user, key)
        second = await _open(user, key)
        for _ in range(20):
            await first.send_json_to({"kind": "snapshot"})
        quiet = await first.receive_nothing(timeout=0.5)
        await first.disconnect()
        await second.disconnect()
        return quiet

    assert run_async(scenario) is True
    assert len(counted) == 1


def test_sockets_per_session_are_capped(settings):
    """One session holds at most CIAM_MONITOR_SOCKETS_PER_SESSION sockets (4429 beyond);
    a closed one frees its place."""
    settings.CIAM_MONITOR_SOCKETS_PER_SESSION = 2
    user = operator()
    key = session_of(user)

    async def scenario() -> tuple[int | None, str]:
        first = await _open(user, key)
        second = await _open(user, key)
        third = socket(session_key=key)
        assert await hello(third, user=user, session_key=key)
        refused = await close_code(third)
        await first.disconnect()
        fourth = await _open(user, key)
        await second.disconnect()
        await fourth.disconnect()
        return refused, fourth.first["kind"]

    assert run_async(scenario) == (CLOSE_TOO_MANY, "snapshot")


def test_a_failed_start_leaves_the_group(monkeypatch):
    """When the first snapshot fails, the socket is closed (1011) and leaves the group."""
    from channels.layers import get_channel_layer

    from console.monitor import selectors

    user = operator()
    key = session_of(user)

    def broken() -> dict[str, Any]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(selectors.shared_snapshot, "get", broken)

    async def scenario() -> tuple[int | None, Any]:
        communicator = socket(session_key=key)
        assert await hello(communicator, user=user, session_key=key)
        code = await close_code(communicator)
        layer = get_channel_layer()
        return code, dict(getattr(layer, "groups", {})).get("monitor") or {}

    code, members = run_async(scenario)
    assert code == CLOSE_INTERNAL_ERROR
    assert members == {}


def test_snapshot_queries_are_few_and_bounded():
    """The snapshot is a constant number of aggregate queries, whatever the events."""
    customer = UserFactory(email="ana@example.com")
    for method in ("password", "passkey", "email_code", "password"):
        _emit("user.signed_in", customer, method=method)
    with CaptureQueriesContext(connection) as queries:
        monitor_snapshot()
    assert len(queries) <= 3, [query["sql"] for query in queries]


def test_publisher_drops_when_full_and_never_blocks(settings):
    """A full queue drops the message (counted) at once instead of waiting, and a failing
    channel layer never reaches the request."""
    import threading
    import time

    from console.monitor.publisher import MonitorPublisher

    settings.CIAM_MONITOR_QUEUE_SIZE = 2
    release = threading.Event()
    stuck = MonitorPublisher()
    stuck._send = lambda message: release.wait(5)  # type: ignore[method-assign]
    started = time.monotonic()
    results = [stuck.offer({"type": "monitor.event", "event": {"id": str(n)}}) for n in range(6)]
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 0.5
    assert results.count(False) >= 3
    assert stuck.dropped == results.count(False)
    assert stuck.flush(5)

    failing = MonitorPublisher()

    def explode(message: Any) -> None:
        raise RuntimeError("layer down")

    failing._send = explode  # type: ignore[method-assign]
    assert failing.offer({"type": "monitor.event", "event": {"id": "1"}})
    assert failing.flush(5)
    assert failing.failed == 1
    assert publisher is not failing


def test_monitor_message_keeps_no_personal_value():
    """Only the type, time, order, a short keyed subject hash and the listed non-personal
    keys (the sign-in method) leave; a tagged (personal) method and every other key do not."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from console.monitor.publisher import monitor_message
    from events.tags import tagged

    event = SimpleNamespace(
        event_id=uuid.uuid4(),
        pk=7,
        type="user.signed_in",
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        subject="sub-123",
        data={"method": "password", "email": "ana@example.com", "amr": ["pwd"]},
    )
    message = monitor_message(event)
    assert message == {
        "type": "monitor.event",
        "event": {
            "id": str(event.event_id),
            "seq": 7,
            "type": "user.signed_in",
            "time": "2026-01-02T03:04:05+00:00",
            "subject": subject_hash("sub-123", event.time.date()),
            "method": "password",
        },
    }
    event.data = {"method": tagged("password", scope="email")}
    assert "method" not in monitor_message(event)["event"]
    event.type, event.data = "user.updated", {"given_name": "Ana"}
    assert "Ana" not in repr(monitor_message(event))


def test_subject_hash_rotates_daily_and_is_its_own_key():
    """The same subject gives the same 8 digits on one day, others the next day, and is not
    the plain HMAC of the subject under SECRET_KEY used elsewhere."""
    from datetime import date

    from django.utils.crypto import salted_hmac

    day, next_day = date(2026, 1, 2), date(2026, 1, 3)
    assert subject_hash("sub-1", day) == subject_hash("sub-1", day)
    assert subject_hash("sub-1", day) != subject_hash("sub-1", next_day)
    assert subject_hash("sub-1", day) != subject_hash("sub-2", day)
    assert subject_hash("sub-1", day) != salted_hmac("", "sub-1").hexdigest()[:8]
    assert subject_hash("", day) == ""


def test_publisher_drops_are_counted_across_threads_and_logged_once(settings, caplog):
    """Requests of many threads dropping at once are all counted (no lost increment), and
    logged once per minute, not once per message."""
    import logging
    import threading

    from console.monitor.publisher import MonitorPublisher

    settings.CIAM_MONITOR_QUEUE_SIZE = 1
    release = threading.Event()
    stuck = MonitorPublisher()
    stuck._send = lambda message: release.wait(5)  # type: ignore[method-assign]
    results: list[bool] = []
    lock = threading.Lock()

    def offer_many() -> None:
        for n in range(200):
            ok = stuck.offer({"type": "monitor.event", "event": {"id": str(n)}})
            with lock:
                results.append(ok)

    with caplog.at_level(logging.WARNING, logger="console.monitor.publisher"):
        threads = [threading.Thread(target=offer_many) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    release.set()
    assert stuck.dropped == results.count(False) >= 700
    drops = [record for record in caplog.records if "dropped" in record.getMessage()]
    assert len(drops) == 1
    assert stuck.flush(5)


def test_flush_gives_up_without_leaving_a_thread(settings):
    """flush() on a stuck channel layer returns False after its timeout and leaves no
    waiting thread behind."""
    import threading

    from console.monitor.publisher import MonitorPublisher

    release = threading.Event()
    stuck = MonitorPublisher()
    stuck._send = lambda message: release.wait(5)  # type: ignore[method-assign]
    stuck.offer({"type": "monitor.event", "event": {"id": "1"}})
    before = threading.active_count()
    started = time.monotonic()
    assert stuck.flush(0.2) is False
    assert time.monotonic() - started < 1
    assert threading.active_count() == before
    release.set()
    assert stuck.flush(5)


def test_a_send_that_times_out_is_cancelled(settings):
    """A hand-over to the in-memory layer that exceeds CIAM_MONITOR_SEND_TIMEOUT_SECONDS is
    cancelled in the server's loop, not left running."""
    import asyncio
    import threading

    from console.monitor import publisher as module

    settings.CIAM_MONITOR_SEND_TIMEOUT_SECONDS = 0.2
    cancelled = threading.Event()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()

    from channels.layers import InMemoryChannelLayer

    class Slow(InMemoryChannelLayer):
        async def group_send(self, group: str, message: dict[str, Any]) -> None:
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    sender = module.MonitorPublisher()
    sender.consumer_loop_register(loop)
    import concurrent.futures
    from unittest import mock

    with (
        mock.patch("channels.layers.get_channel_layer", return_value=Slow()),
        pytest.raises(concurrent.futures.TimeoutError),
    ):
        sender._send({"type": "monitor.event", "event": {"id": "1"}})
    assert cancelled.wait(2)
    loop.call_soon_threadsafe(loop.stop)
    runner.join(2)
