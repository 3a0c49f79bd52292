"""The live monitor's WebSocket (ws path /admin/monitor/ws/).

The handshake: the socket is accepted, and its first message must be
``{"kind": "hello", "ticket": "..."}`` within ``CIAM_MONITOR_HELLO_SECONDS`` (the ticket is
never in the URL, which access logs keep). Only active staff with the monitor permission,
whose session is still theirs and whose ticket is valid (``access``), stay connected: anyone
else is closed with code 4403, so that the page can tell "not allowed" (no reconnecting)
from a dropped connection (a browser sees no close code for a refused handshake). More than
``CIAM_MONITOR_SOCKETS_PER_SESSION`` sockets of one session in this process: 4429.

A connected socket joins the "monitor" group, gets a snapshot of the counters at once and
again every ``CIAM_MONITOR_SNAPSHOT_SECONDS`` (the process's shared snapshot), re-checking
the operator's session each time: any failure of that check closes the socket (1011), and
live messages stop once the last successful check is older than two intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .access import monitor_session_user, monitor_ticket_valid, session_digest
from .app_settings import app_settings
from .publisher import publisher
from .selectors import shared_snapshot

logger = logging.getLogger(__name__)

# RFC 6455 7.4.2: 4000-4999 are for applications; 4403 and 4429 read as HTTP's 403 and 429.
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
# RFC 6455 7.4.1: the server met a condition that prevented it from fulfilling the request.
CLOSE_INTERNAL_ERROR = 1011


class _SessionSockets:
    """Open sockets per session (digest) in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    def take(self, digest: str) -> bool:
        with self._lock:
            if self._open[digest] >= max(1, app_settings.SOCKETS_PER_SESSION):
                return False
            self._open[digest] += 1
            return True

    def release(self, digest: str) -> None:
        with self._lock:
            self._open[digest] -= 1
            if self._open[digest] <= 0:
                del self._open[digest]


session_sockets = _SessionSockets()


class MonitorConsumer(AsyncJsonWebsocketConsumer):
    group = ""
    joined = False
    slot = ""
    user_pk: Any = None
    session_key = ""
    checked_at = 0.0
    snapshot_sent_at = 0.0
    refresher: asyncio.Task[None] | None = None
    hello_timer: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.group = app_settings.GROUP
        await self.accept()
        self.hello_timer = asyncio.create_task(self._hello_deadline())

    async def disconnect(self, code: int) -> None:
        for task in (self.refresher, self.hello_timer):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.refresher = self.hello_timer = None
        await self._leave()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if not self.user_pk:
            # The first message is the hello with the ticket; anything else is refused.
            if kind == "hello" and self.hello_timer is not None:
                self.hello_timer.cancel()
                self.hello_timer = None
                await self._start(content.get("ticket"))
            else:
                await self.close(code=CLOSE_FORBIDDEN)
            return
        # Then only an occasional "snapshot" request (after a tab wakes), one per interval.
        due = time.monotonic() - self.snapshot_sent_at >= self._interval()
        if kind == "snapshot" and self._fresh() and due:
            await self._send_snapshot()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data)
        except ValueError:  # not JSON
            await self.close(code=CLOSE_FORBIDDEN if not self.user_pk else 1003)

    async def monitor_event(self, message: dict[str, Any]) -> None:
        """A message of the group (publisher.MESSAGE_TYPE "monitor.event")."""
        event = message.get("event")
        if isinstance(event, dict) and self._fresh():
            await self.send_json({"kind": "event", "event": event})

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def _interval() -> float:
        return max(0.2, app_settings.SNAPSHOT_SECONDS)

    def _fresh(self) -> bool:
        """The last successful check is recent enough for live messages to go out."""
        return bool(self.user_pk) and time.monotonic() - self.checked_at <= 2 * self._interval()

    async def _hello_deadline(self) -> None:
        await asyncio.sleep(max(0.1, app_settings.HELLO_SECONDS))
        self.hello_timer = None
        if not self.user_pk:
            await self.close(code=CLOSE_FORBIDDEN)

    def _handshake(self, ticket: Any) -> Any:
        session = self.scope.get("session")
        session_key = getattr(session, "session_key", None) or ""
        user = monitor_session_user(
            session_key=session_key, user_pk=getattr(self.scope.get("user"), "pk", None)
        )
        if user is None or not monitor_ticket_valid(
            ticket=ticket if isinstance(ticket, str) else "", user=user, session_key=session_key
        ):
            return None
        self.session_key = session_key
        return user

    def _recheck(self) -> bool:
        return monitor_session_user(session_key=self.session_key, user_pk=self.user_pk) is not None

    async def _start(self, ticket: Any) -> None:
        try:
            user = await database_sync_to_async(self._handshake)(ticket)
        except Exception:
            logger.warning("live monitor: a handshake check failed", exc_info=True)
            await self.close(code=CLOSE_INTERNAL_ERROR)
            return
        if user is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        digest = session_digest(self.session_key)
        if not session_sockets.take(digest):
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.slot = digest
        self.user_pk = user.pk
        self.checked_at = time.monotonic()
        try:
            publisher.consumer_loop_register(asyncio.get_running_loop())
            await self.channel_layer.group_add(self.group, self.channel_name)
            self.joined = True
            await self._send_snapshot()
        except Exception:
            logger.warning("live monitor: a socket could not start", exc_info=True)
            await self._leave()
            await self.close(code=CLOSE_INTERNAL_ERROR)
            return
        self.refresher = asyncio.create_task(self._refresh())

    async def _leave(self) -> None:
        """Out of the group and of the session's count (also after a failed start)."""
        if self.joined and self.channel_layer is not None:
            self.joined = False
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.slot:
            session_sockets.release(self.slot)
            self.slot = ""

    async def _send_snapshot(self) -> None:
        snapshot = await database_sync_to_async(shared_snapshot.get)()
        self.snapshot_sent_at = time.monotonic()
        await self.send_json(snapshot)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            try:
                allowed = await database_sync_to_async(self._recheck)()
            except asyncio.CancelledError:
                raise
            except Exception:  # fail closed: a check that cannot run is a refusal
                logger.warning("live monitor: the operator could not be re-checked", exc_info=True)
                self.refresher = None
                await self._leave()
                await self.close(code=CLOSE_INTERNAL_ERROR)
                return
            if not allowed:
                self.refresher = None
                await self._leave()
                await self.close(code=CLOSE_FORBIDDEN)
                return
            self.checked_at = time.monotonic()
            try:
                # Re-joining renews the membership (the Redis layer's group_expiry).
                await self.channel_layer.group_add(self.group, self.channel_name)
                self.joined = True
                await self._send_snapshot()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("live monitor: a snapshot failed", exc_info=True)
