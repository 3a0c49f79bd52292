"""Fixtures of the webhook tests: loopback receivers (http.server in threads), endpoints,
events, and short retry schedules (time is moved, never waited for)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from tests.factories import UserFactory


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    path: str

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1. ``statuses``: answers to give in turn (then
    ``default_status``); ``delay``: seconds to sleep before answering; ``hold``: an Event
    the handler waits on before answering."""

    default_status: int = 200
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    hold: threading.Event | None = None
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                    status = (
                        receiver.statuses.pop(0) if receiver.statuses else receiver.default_status
                    )
                with receiver._arrived:
                    receiver.received.append(
                        Received(
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                            self.path,
                        )
                    )
                    receiver._arrived.notify_all()
                try:
                    if receiver.hold is not None:
                        receiver.hold.wait(10)
                    if receiver.delay:
                        time.sleep(receiver.delay)
                    payload = b'{"ok": true}'
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                return

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """Down: nothing listens on the port any more (connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 10) -> None:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def ids(self) -> list[str]:
        return [item.webhook_id for item in self.received]


@pytest.fixture(autouse=True)
def webhook_settings(settings) -> None:
    """Loopback receivers allowed; retries 1 s apart without jitter (tests move time);
    short timeouts and polls."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.CIAM_WEBHOOKS_RETRY_SCHEDULE = [1, 1, 1]
    settings.CIAM_WEBHOOKS_RETRY_JITTER = 0
    settings.CIAM_WEBHOOKS_TIMEOUT_SECONDS = 5
    settings.CIAM_WEBHOOKS_POLL_SECONDS = 0.05
    settings.CIAM_WEBHOOKS_LEASE_MARGIN_SECONDS = 5


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    made.start()
    yield made
    if made.hold is not None:
        made.hold.set()
    made.stop()


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        receiver = Receiver(**kwargs)
        receiver.start()
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        if receiver.hold is not None:
            receiver.hold.set()
        receiver.stop()


def endpoint_create(url: str, **kwargs: Any) -> Any:
    from webhooks.models import Endpoint
    from webhooks.services.secrets import endpoint_secret_generate

    kwargs.setdefault("name", "CRM")
    kwargs.setdefault("event_types", ["user.signed_in"])
    return Endpoint.objects.create(url=url, secret=endpoint_secret_generate(), **kwargs)


@pytest.fixture
def make_endpoint(db) -> Callable[..., Any]:
    return endpoint_create


def sign_in_emit(user: Any, **data: Any) -> Any:
    """A ``user.signed_in`` event about ``user``, written in its own transaction."""
    from django.db import transaction

    from events.services.outbox import event_emit

    with transaction.atomic():
        return event_emit(
            type="user.signed_in",
            user=user,
            data={"method": "password", "amr": ["pwd"], "acr": "1", **data},
        )


@pytest.fixture
def emit() -> Callable[..., Any]:
    return sign_in_emit


@pytest.fixture
def customer(db) -> Any:
    return UserFactory()


def run_worker(**kwargs: Any) -> Any:
    """One worker until nothing is due and nothing is in flight."""
    from webhooks.services.worker import DeliveryWorker

    kwargs.setdefault("concurrency", 4)
    return DeliveryWorker(**kwargs).run(once=True)


def time_passes() -> None:
    """Minutes (hours) go by: every waiting retry, and every lease, is due now."""
    from webhooks.models import Delivery

    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(status="pending").update(next_attempt_at=past)
    Delivery.objects.filter(lease_until__isnull=False).update(lease_until=past)
