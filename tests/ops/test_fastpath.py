"""The probes and the scrape through the production WSGI application (ciam.wsgi), and
through the lean back-channel handler alone: no session, cookie or database for
/healthz, and the metrics middleware counting there too."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from ciam.fastpath import BackchannelHandler

from .conftest import Scrape

pytestmark = pytest.mark.django_db

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def call(application: WSGIApp, path: str, **extra: str) -> tuple[str, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, headers

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        **extra,
    }
    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return captured["status"], captured["headers"], body


def test_the_production_application_serves_the_three_endpoints():
    """ciam.wsgi answers /healthz, /readyz and (from loopback) /metrics, and hides /metrics
    from elsewhere (whichever handler the router gives them to)."""
    from ciam.wsgi import application

    for path in ("/healthz", "/readyz", "/metrics"):
        status, _, _ = call(application, path)
        assert status == "200 OK", (path, status)
    status, _, body = call(application, "/healthz")
    assert json.loads(body) == {"status": "ok"}
    status, _, _ = call(application, "/metrics", REMOTE_ADDR="203.0.113.7")
    assert status.startswith("404")


def test_the_back_channel_handler_serves_them_without_session_or_database(
    django_assert_num_queries,
):
    """Through CIAM_BACKCHANNEL_MIDDLEWARE (security headers and metrics only): /healthz
    makes no query, nothing sets a cookie, and the request is counted by URL name."""
    handler = BackchannelHandler()
    labels = {"endpoint": "ops:healthz", "method": "GET", "status": "200"}
    before = Scrape(call(handler, "/metrics")[2].decode())
    with django_assert_num_queries(0):
        status, headers, _ = call(handler, "/healthz")
    assert status == "200 OK"
    assert ("X-Content-Type-Options", "nosniff") in headers
    status, headers, body = call(handler, "/readyz")
    assert status == "200 OK", body
    after = Scrape(call(handler, "/metrics")[2].decode())
    assert after.value("ciam_http_requests_total", **labels) == (
        before.value("ciam_http_requests_total", **labels) + 1
    )
    for path in ("/healthz", "/readyz", "/metrics"):
        _, headers, _ = call(handler, path)
        assert not [name for name, _ in headers if name.lower() == "set-cookie"], path


def test_probes_on_the_back_channel_handler_take_any_host_and_hide_metrics():
    """A load balancer probing the server's own address (a Host not in ALLOWED_HOSTS) is
    answered; /metrics from elsewhere is a 404 there too, not an error."""
    handler = BackchannelHandler()
    for path in ("/healthz", "/readyz", "/metrics"):
        status, _, _ = call(handler, path, HTTP_HOST="10.0.0.9:8000")
        assert status == "200 OK", path
    status, _, _ = call(handler, "/metrics", REMOTE_ADDR="203.0.113.7")
    assert status.startswith("404")
