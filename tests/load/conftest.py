"""The live provider as the load test needs it: behind one trusted proxy, and on SQLite's
shared in-memory test database one request at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.db import connections


@pytest.fixture
def behind_trusted_proxy(settings) -> None:
    """The provider behind one proxy it trusts (CIAM_TRUSTED_PROXY_COUNT=1, the production
    set-up behind a load balancer): each customer's address is the X-Forwarded-For entry the
    proxy appends, so the limits per address (sign-ups, sign-in back-off, emailed codes)
    count each customer's own address at their defaults. The setting is read on every
    request (allauth's app settings, sessions_ctx.throttle.client_ip), so the live server's
    threads see it."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1


def _shared_sqlite_connection() -> bool:
    return any(
        connection.vendor == "sqlite" and connection.is_in_memory_db()  # type: ignore[attr-defined]
        for connection in connections.all()
    )


@pytest.fixture
def provider(issuer, live_server) -> Iterator[str]:
    """The live provider's issuer. On SQLite the test database is in memory and every
    server thread uses the test's one connection (Django's live server shares it), so two
    requests at once would share a transaction: there the server answers one request at a
    time, each whole, and the customers still interleave request by request. PostgreSQL
    gives each server thread a connection of its own and runs them concurrently."""
    if not _shared_sqlite_connection():
        yield issuer
        return
    httpd = live_server.thread.httpd
    application = httpd.get_app()
    lock = threading.Lock()

    def one_at_a_time(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        with lock:
            result = application(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    httpd.set_app(one_at_a_time)
    try:
        yield issuer
    finally:
        httpd.set_app(application)
