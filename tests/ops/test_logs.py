"""Structured logs and the request id (ciam/ops/logs.py): every response names its id, every
log line written under a request carries it, and outbound calls send it on."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from django.conf import settings as django_settings

from accounts.social.adapter import SocialAccountAdapter
from ciam.ops.logs import JsonFormatter, RequestIdFilter, bound_request_id, current_request_id
from sessions_ctx.outbound import outbound_post, outbound_request

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the provider's loggers write, through the production formatter and filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    access = logging.getLogger("ciam.access")
    previous = access.level
    access.setLevel(logging.INFO)
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)
    access.setLevel(previous)


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_response_names_a_new_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


def test_the_proxys_request_id_is_kept(client, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    response = client.get("/healthz", HTTP_X_REQUEST_ID="nginx-4f2a.17")
    assert response["X-Request-ID"] == "nginx-4f2a.17"


@pytest.mark.parametrize(
    "sent",
    ["", "two words", "line\nbreak", "a" * 129, "<script>", "caf\u00e9", "x;y"],
)
def test_a_request_id_that_is_not_a_plain_token_is_replaced(client, settings, sent):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    response = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_a_clients_own_request_id_is_not_taken_without_a_trusted_proxy(client, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    response = client.get("/healthz", HTTP_X_REQUEST_ID="chosen-by-client")
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_the_header_can_be_turned_off(client, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.CIAM_REQUEST_ID_HEADER = ""
    response = client.get("/healthz", HTTP_X_REQUEST_ID="from-outside")
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_a_page_that_fails_logs_json_with_the_responses_id(client, settings, json_lines):
    """A 404 is logged by Django's request logger (a warning) and by the access logger: each
    line is one JSON object carrying the id the response gave."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")
    assert response.status_code == 404
    records = _records(json_lines)
    assert records, "nothing was logged"
    assert {record["request_id"] for record in records} == {"req-404"}
    access = [record for record in records if record["logger"] == "ciam.access"]
    assert access == [
        {
            "time": access[0]["time"],
            "level": "INFO",
            "logger": "ciam.access",
            "message": "GET <unresolved> 404",
            "request_id": "req-404",
            "method": "GET",
            "path": "<unresolved>",
            "status": 404,
            "duration_ms": access[0]["duration_ms"],
            "view": "",
        }
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", access[0]["time"])


def test_the_access_line_names_the_url_pattern_not_the_path(client, json_lines):
    """A path can carry a secret (an emailed sign-in link): the line has the pattern."""
    client.get("/account/email-sign-in/link/SECRET-TOKEN-123/")
    [access] = [r for r in _records(json_lines) if r["logger"] == "ciam.access"]
    assert access["path"] == "/account/email-sign-in/link/<str:token>/"
    assert access["view"] == "passwordless:link"
    assert "SECRET-TOKEN-123" not in json.dumps(access)


def test_the_query_string_of_a_refused_request_is_never_logged(client, json_lines):
    """Django's request logger passes the request along (its text holds the query): the
    JSON line leaves it out, so a token or login hint in a URL does not reach the log."""
    response = client.get("/userinfo?access_token=SECRET-IN-QUERY&login_hint=ana@example.com")
    assert response.status_code >= 400
    assert json_lines.getvalue(), "nothing was logged"
    assert "SECRET-IN-QUERY" not in json_lines.getvalue()
    assert "ana@example.com" not in json_lines.getvalue()


def test_a_traceback_is_one_json_field(json_lines):
    logger = logging.getLogger("ciam.tests")
    with bound_request_id("work-1"):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("delivery failed", extra={"endpoint": 7})
    [record] = _records(json_lines)
    assert record["message"] == "delivery failed"
    assert record["level"] == "ERROR"
    assert record["request_id"] == "work-1"
    assert record["endpoint"] == 7
    assert "ValueError: boom" in record["exc_info"]
    assert current_request_id() == ""


def test_logging_is_json_by_default_without_debug():
    handler = django_settings.LOGGING["handlers"]["console"]
    assert handler["formatter"] == "json"
    assert handler["filters"] == ["request_id"]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.ids.append(self.headers.get("X-Request-ID"))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver(settings) -> Iterator[HTTPServer]:
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    server.ids = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_outbound_calls_carry_the_request_id(receiver):
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    with bound_request_id("req-out-1"):
        outbound_post(url, data={"logout_token": "x"})
        outbound_request(url, body=b"{}", headers={"Content-Type": "application/json"}, timeout=3)
    outbound_request(url, body=b"{}", headers={}, timeout=3)
    outbound_request(url, body=b"{}", headers={}, timeout=3)
    first, second, third, fourth = receiver.ids  # type: ignore[attr-defined]
    assert first == second == "req-out-1"
    assert GENERATED.fullmatch(third)
    assert GENERATED.fullmatch(fourth)
    assert third != fourth


def test_social_login_calls_carry_the_request_id():
    with bound_request_id("req-social"):
        session = SocialAccountAdapter().get_requests_session()
    assert session.headers["X-Request-ID"] == "req-social"
    assert isinstance(session, requests.Session)


@pytest.mark.live
def test_back_channel_responses_name_their_request_id(issuer, settings):
    """Token requests go through the back-channel handler (ciam/fastpath.py) in production."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    response = requests.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials"},
        headers={"X-Request-ID": "rp-call-9"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "rp-call-9"
