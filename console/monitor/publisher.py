"""Hands committed outbox events to the channel layer group of the live monitor, off the
request's path.

The receiver of ``events.signals.event_committed`` runs in the request that committed the
change (after commit). It only puts the event on a bounded queue; one daemon thread per
process builds its small message and drains the queue into ``channel_layer.group_send``. A
full queue drops the message (counted in ``publisher.dropped``): the monitor is a view, the
outbox stays the record, and the next periodic snapshot recounts from it. Nothing here
raises into the request.

Where a message goes:
- Redis layer (``channels_redis``): the thread runs its own event loop and sends from it;
  consumers in any process receive.
- In-memory layer: only consumers of this process can receive, and their queues belong to
  the event loop of the ASGI server. The thread hands each send to that loop (recorded by
  the consumers when they connect, ``consumer_loop_register``), never to a loop of its own:
  an asyncio queue woken from another loop may not wake at all. No consumer in this process
  (a WSGI worker): nothing is sent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from datetime import UTC, date, datetime
from typing import Any

from django.utils.crypto import salted_hmac

from .app_settings import app_settings

logger = logging.getLogger(__name__)

# The message type a consumer handles (MonitorConsumer.monitor_event).
MESSAGE_TYPE = "monitor.event"
# Data keys a monitor row may show, per event type: never an email, a name or a value.
SHOWN_DATA = {
    "user.signed_in": ("method",),
    "credential.added": ("kind",),
    "credential.removed": ("kind",),
    "credential.changed": ("kind",),
    "profile.field_collected": ("field",),
}


SUBJECT_SALT = "console.monitor.subject"
# A drop is logged at most this often (with the number dropped since the last line).
DROP_LOG_SECONDS = 60.0


def subject_hash(subject: str, day: date | None = None) -> str:
    """Eight hex digits telling rows of one customer apart on one (UTC) day without naming
    them: an HMAC keyed by SECRET_KEY with a salt of its own and the day, so not reversible
    from a list of known subjects, and no pseudonym that follows a customer from day to day.
    """
    if not subject:
        return ""
    day = day or datetime.now(UTC).date()
    return salted_hmac(f"{SUBJECT_SALT}.{day.isoformat()}", subject).hexdigest()[:8]


def monitor_message(event: Any) -> dict[str, Any]:
    """What an operator's monitor shows of ``event``: type, time, a few non-personal data
    fields (the sign-in method) and a short subject hash."""
    data = event.data if isinstance(event.data, dict) else {}
    shown = {}
    for key in SHOWN_DATA.get(event.type, ()):
        value = data.get(key)
        if isinstance(value, str | int | float | bool):
            shown[key] = str(value)[:40]
    return {
        "type": MESSAGE_TYPE,
        "event": {
            "id": str(event.event_id),
            # The outbox order: the page counts the event only above the snapshot's
            # through_seq (events.receivers writes a sign-in once, with its final method).
            "seq": event.pk,
            "type": event.type,
            "time": event.time.isoformat(),
            "subject": subject_hash(event.subject or "", event.time.astimezone(UTC).date()),
            **shown,
        },
    }


class MonitorPublisher:
    """A bounded queue and the daemon thread that drains it into the channel layer."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer_loop: asyncio.AbstractEventLoop | None = None
        self._counts = threading.Lock()
        self._drop_logged_at = 0.0
        self._drops_unlogged = 0
        self.published = 0
        self.dropped = 0
        self.failed = 0

    # --- the request side -------------------------------------------------------------

    def has_audience(self) -> bool:
        """Whether a message could reach a monitor: a layer shared between processes
        (Redis), or the in-memory layer with a consumer in this process (else nothing would
        be sent: a WSGI worker with the default layer skips the work)."""
        from channels.layers import InMemoryChannelLayer, get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return False
        if isinstance(layer, InMemoryChannelLayer):
            return self._live_consumer_loop() is not None
        return True

    def _live_consumer_loop(self) -> asyncio.AbstractEventLoop | None:
        """The running event loop of this process's consumers (in-memory layer), or None."""
        loop = self._consumer_loop
        if loop is None or loop.is_closed() or not loop.is_running():
            return None
        return loop

    def offer(self, message: Any) -> bool:
        """Queue ``message`` (a monitor message, or an outbox event whose message the thread
        builds) for the monitor; False (and counted) when the queue is full."""
        self._start()
        assert self._queue is not None
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._dropped()
            return False
        return True

    def _dropped(self) -> None:
        """Count a drop (requests of many threads drop at once) and log it, at most once
        per DROP_LOG_SECONDS."""
        with self._counts:
            self.dropped += 1
            self._drops_unlogged += 1
            now = time.monotonic()
            if self._drop_logged_at and now - self._drop_logged_at < DROP_LOG_SECONDS:
                return
            count, self._drops_unlogged, self._drop_logged_at = self._drops_unlogged, 0, now
        logger.warning(
            "live monitor: the queue is full, %d message(s) dropped (%d in all)",
            count,
            self.dropped,
        )

    def consumer_loop_register(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop a consumer of this process runs in (the ASGI server's)."""
        self._consumer_loop = loop

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued message was handed over, at most ``timeout`` seconds
        (tests, shutdown); False when some were still waiting. Waits in the calling thread
        (no helper thread left behind when the drain is stuck)."""
        if self._queue is None:
            return True
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    # --- the thread ---------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._queue is None:
                self._queue = queue.Queue(maxsize=max(1, app_settings.QUEUE_SIZE))
            self._thread = threading.Thread(
                target=self._drain, name="ciam-monitor-publisher", daemon=True
            )
            self._thread.start()

    def _drain(self) -> None:
        assert self._queue is not None
        self._loop = asyncio.new_event_loop()
        while True:
            item = self._queue.get()
            try:
                self._send(item if isinstance(item, dict) else monitor_message(item))
                with self._counts:
                    self.published += 1
            except Exception:  # the monitor must never take the publisher down
                with self._counts:
                    self.failed += 1
                logger.warning(
                    "live monitor: a message did not reach the channel layer", exc_info=True
                )
            finally:
                self._queue.task_done()

    def _send(self, message: dict[str, Any]) -> None:
        from channels.layers import InMemoryChannelLayer, get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        timeout = app_settings.SEND_TIMEOUT_SECONDS
        send = layer.group_send(app_settings.GROUP, message)
        if isinstance(layer, InMemoryChannelLayer):
            loop = self._live_consumer_loop()
            if loop is None:
                send.close()  # no consumer in this process: nobody to tell
                return
            future = asyncio.run_coroutine_threadsafe(send, loop)
            try:
                future.result(timeout)
            except concurrent.futures.TimeoutError:
                future.cancel()  # no send left running in the server's loop
                raise
            return
        assert self._loop is not None
        self._loop.run_until_complete(asyncio.wait_for(send, timeout))


publisher = MonitorPublisher()


def monitor_event_committed(sender: Any, event: Any, **kwargs: Any) -> None:
    """events.signals.event_committed: queue the event for the monitor (its message is built
    by the publisher's thread, off the request); nothing when no monitor could receive it.
    Never raises."""
    try:
        if publisher.has_audience():
            publisher.offer(event)
    except Exception:
        logger.warning("live monitor: an event was not queued", exc_info=True)
