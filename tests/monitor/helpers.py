"""Shared by the monitor tests: operators, their sessions, sockets on the ASGI application."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import Client

from console.monitor.access import monitor_ticket
from tests.factories import UserFactory

T = TypeVar("T")
ORIGIN = b"http://localhost"
WS_PATH = "/admin/monitor/ws/"


def operator(*, permitted: bool = True, email: str = "operator@example.com") -> Any:
    """A staff account, holding the monitor permission unless ``permitted`` is False."""
    user = UserFactory(email=email, is_staff=True)
    if permitted:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="monitor", codename="view_live_monitor")
        )
    return type(user)._default_manager.get(pk=user.pk)


def session_of(user: Any) -> str:
    """The key of a fresh signed-in session of ``user``."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def socket(
    *,
    session_key: str | None = None,
    user: Any = None,
    origin: bytes = ORIGIN,
    path: str = WS_PATH,
) -> WebsocketCommunicator:
    """A socket to the monitor through the whole ASGI application (origin check, session
    cookie, routing). Its ticket goes in the first message (``hello``)."""
    from ciam.asgi import application

    headers = [(b"origin", origin), (b"host", b"localhost")]
    if session_key:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def hello(
    communicator: WebsocketCommunicator,
    *,
    ticket: str | None = None,
    user: Any = None,
    session_key: str | None = None,
) -> bool:
    """Connect and send the hello; ``ticket`` defaults to the one the page would give this
    session. False when the handshake itself was refused (the Origin)."""
    connected, _code = await communicator.connect(timeout=5)
    if not connected:
        return False
    if ticket is None and user is not None and session_key:
        ticket = monitor_ticket(user=user, session_key=session_key)
    await communicator.send_json_to({"kind": "hello", "ticket": ticket or ""})
    return True


async def close_code(communicator: WebsocketCommunicator, timeout: float = 5) -> int | None:
    """Read messages until the socket is closed; its close code."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


def run_async(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run ``scenario`` to its end on an event loop of a thread of its own.

    Not in the test's thread: once the session's Playwright (browser tests) started, that
    thread has a running event loop, where async_to_sync refuses to run. The scenario's
    database calls (database_sync_to_async) run in that thread too, with its own connection,
    closed at the end: the tests using this are transactional.
    """
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(async_to_sync(scenario)())
        except BaseException as error:
            failure.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if failure:
        raise failure[0]
    assert result, "the scenario did not finish in 60 s"
    return result[0]
