"""Fast checks of what the long fault tests rely on (not marked long: they run in every
pass): a database outage answered 503 with Retry-After (ciam/ops/outage.py), the Redis cache
that a Redis outage turns into a cache that keeps nothing (ciam/ops/cache.py), and the
keyring's reload interval read from CIAM_KEYS_RELOAD_SECONDS (ciam/keys.py)."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore
from django.core.signals import request_finished, request_started
from django.db import OperationalError, close_old_connections
from django.test import Client
from django.utils import timezone

from ciam import keys
from ciam.fastpath import BackchannelHandler
from ciam.middleware import CONTENT_SECURITY_POLICY
from ciam.ops import cache as resilient
from ciam.ops import outage
from ciam.ops.cache import ResilientRedisCache

from .outage_urls import DOWN
from .servers import RedisServer, free_port

OUTAGE = "ciam.ops.outage.DatabaseOutageMiddleware"
HTML = "text/html,application/xhtml+xml,*/*;q=0.8"


def _wired(middleware: list[str]) -> list[str]:
    """``middleware`` with the outage middleware just before the security middleware (inside
    the request id and the metrics), where ciam/settings.py puts it."""
    if OUTAGE in middleware:
        return middleware
    at = middleware.index("django.middleware.security.SecurityMiddleware")
    return [*middleware[:at], OUTAGE, *middleware[at:]]


@pytest.fixture
def outage_wired(settings) -> None:
    """The test views; the outage middleware in both middleware lists."""
    settings.ROOT_URLCONF = "tests.long.outage_urls"
    settings.MIDDLEWARE = _wired(list(settings.MIDDLEWARE))
    settings.CIAM_BACKCHANNEL_MIDDLEWARE = _wired(list(settings.CIAM_BACKCHANNEL_MIDDLEWARE))


@pytest.fixture
def browser(db, outage_wired) -> Client:
    return Client(raise_request_exception=False)


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    assert b"Traceback" not in response.content


def test_a_query_failing_in_a_page_is_a_503_with_retry_after(browser):
    """OperationalError from a view: 503, Retry-After, the OAuth-style JSON error for a
    caller that does not ask for HTML."""
    response = browser.get("/down")
    assert_unavailable(response)
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The service is briefly unavailable; try again shortly.",
    }


def test_a_browser_gets_a_short_page_in_its_language(browser):
    """A browser (Accept naming text/html) gets the hosted pages' error page, under their
    policy, in the language it asks for."""
    response = browser.get("/down", HTTP_ACCEPT=HTML, HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert_unavailable(response)
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Language"] == "pt-br"
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    page = response.content.decode()
    assert '<html lang="pt-br"' in page
    assert "Serviço indisponível" in page
    assert "Tente novamente em instantes." in page
    assert "/static/css/ciam.css" in page


def test_a_database_error_behind_another_error_is_still_a_503(browser):
    """A view that wraps the OperationalError in an error of its own (raise ... from)."""
    assert_unavailable(browser.get("/down-inside"))


def test_a_bug_stays_a_500(browser):
    assert browser.get("/bug").status_code == 500


def test_the_back_channel_handler_answers_503_too(db, outage_wired):
    """Through ciam/fastpath.py's lean handler (no process_exception hooks there), with
    the middleware in CIAM_BACKCHANNEL_MIDDLEWARE."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/consent/down",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
    }
    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(BackchannelHandler()(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert captured["status"].startswith("503")
    assert captured["headers"]["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    assert json.loads(body)["error"] == "temporarily_unavailable"


class FakeConnection:
    """What the middleware reads of a Django connection."""

    alias = "default"

    def __init__(self, raw: Any, *, errors: bool = False) -> None:
        self.connection = raw
        self.errors_occurred = errors
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        self.connection = None


class FakeRaw:
    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.closed = False


class FakeConnections:
    def __init__(self, *connections: FakeConnection) -> None:
        self.connections = connections

    def all(self, initialized_only: bool = False) -> list[FakeConnection]:
        return list(self.connections)


@pytest.fixture
def fake_connection(monkeypatch) -> FakeConnection:
    connection = FakeConnection(FakeRaw())
    monkeypatch.setattr(outage, "connections", FakeConnections(connection))
    return connection


def test_a_session_the_database_could_not_save_is_a_503_not_a_400(
    browser, fake_connection, monkeypatch
):
    """Django's session middleware reports a failed save as SessionInterrupted (400): when
    the request's connection failed meanwhile, the answer is 503."""

    def save(self: Any, must_create: bool = False) -> None:
        fake_connection.errors_occurred, fake_connection.connection = True, None
        try:
            raise OperationalError(DOWN)
        except OperationalError as error:
            raise UpdateError from error

    monkeypatch.setattr(SessionStore, "save", save)
    browser.cookies["ciam_session"] = "a" * 32
    assert_unavailable(browser.get("/session"))


def test_a_400_with_a_healthy_connection_stays_a_400(browser, fake_connection, monkeypatch):
    def save(self: Any, must_create: bool = False) -> None:
        raise UpdateError

    monkeypatch.setattr(SessionStore, "save", save)
    browser.cookies["ciam_session"] = "a" * 32
    assert browser.get("/session").status_code == 400


def test_a_broken_connection_is_closed_before_the_answer(browser, fake_connection):
    """The thread's next request opens a new connection instead of failing on the dead one
    (and an error flag left by a failed connection attempt does not outlive its request)."""
    fake_connection.connection = FakeRaw(broken=True)
    assert_unavailable(browser.get("/down"))
    assert fake_connection.closed == 1
    fake_connection.errors_occurred = True
    assert browser.get("/bug").status_code == 500  # no connection: the flag was dropped
    assert fake_connection.errors_occurred is False


def test_an_outage_is_logged_once_not_per_request(browser, caplog, monkeypatch):
    monkeypatch.setattr(outage, "outage_log", outage._OutageLog())
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert browser.get("/down").status_code == 503
    lines = [
        record for record in caplog.records if record.name in ("ciam.ops.outage", "django.request")
    ]
    assert len(lines) == 1, [record.getMessage() for record in lines]
    assert "database unavailable: 1 request(s) answered 503" in lines[0].getMessage()


# --- the Redis cache ---------------------------------------------------------------------------


@pytest.fixture
def redis_cache(monkeypatch) -> tuple[ResilientRedisCache, int]:
    """The cache on a port where nothing listens (yet), quick to try again."""
    monkeypatch.setattr(resilient, "RETRY_SECONDS", 0.05)
    monkeypatch.setattr(resilient, "_down_until", {})
    port = free_port()
    backend = ResilientRedisCache(
        f"redis://127.0.0.1:{port}/0",
        {"OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}},
    )
    return backend, port


def test_without_redis_the_cache_keeps_nothing_and_raises_nothing(redis_cache, caplog):
    """Every call answers as an empty cache would (and stores nothing); one warning."""
    backend, _ = redis_cache
    with caplog.at_level(logging.WARNING, logger="ciam.ops.cache"):
        assert backend.get("k", "default") == "default"
        assert backend.add("k", 1, 60) is True
        assert backend.set("k", 1, 60) is None
        assert backend.get("k") is None
        with pytest.raises(ValueError, match="not found"):
            backend.incr("k")
        with pytest.raises(ValueError, match="not found"):
            backend.decr("k")
        assert backend.get_many(["k", "l"]) == {}
        assert backend.set_many({"k": 1, "l": 2}) == ["k", "l"]
        assert backend.delete("k") is False
        assert backend.has_key("k") is False
        assert backend.touch("k") is False
        assert backend.delete_many(["k"]) is None
        assert backend.get_or_set("k", 7) == 7
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert "Redis is unavailable" in warnings[0]


def test_after_a_failure_redis_is_skipped_for_a_moment(redis_cache, monkeypatch):
    """Within RETRY_SECONDS of a failure no call reaches Redis (no timeout paid again)."""
    backend, _ = redis_cache
    monkeypatch.setattr(resilient, "RETRY_SECONDS", 60.0)
    assert backend.get("k") is None
    assert backend.redis_down()
    tried: list[str] = []
    monkeypatch.setattr(
        "django.core.cache.backends.redis.RedisCache.get",
        lambda *args, **kwargs: tried.append("get"),
    )
    assert backend.get("k", "default") == "default"
    assert tried == []


def test_redis_back_on_its_port_is_used_again(redis_cache, tmp_path, caplog):
    """No restart needed: once Redis answers, values are kept again; a pooled connection
    that Redis closed by restarting is replaced without counting as an outage."""
    backend, port = redis_cache
    assert backend.get("k") is None  # down
    try:
        server = RedisServer(tmp_path / "redis")
    except RuntimeError as error:
        pytest.skip(str(error))
    server.port = port
    server.start()
    try:
        time.sleep(0.1)  # past RETRY_SECONDS
        with caplog.at_level(logging.WARNING, logger="ciam.ops.cache"):
            assert backend.add("k", 1, 60) is True
            assert backend.incr("k") == 2
        assert "Redis answers again" in caplog.text
        server.kill()
        server.start()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ciam.ops.cache"):
            assert backend.get("k") is None  # a new, empty Redis: a miss, not an outage
            assert backend.add("k", 1, 60) is True
        assert "unavailable" not in caplog.text
    finally:
        server.stop()


# --- the keyring's reload interval ------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.mark.django_db
def test_the_keyring_is_read_again_after_the_configured_interval(settings, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(keys.time, "monotonic", clock.monotonic)
    settings.CIAM_KEYS_RELOAD_SECONDS = 5
    first = keys.keyring()
    clock.now += 4
    assert keys.keyring() is first
    clock.now += 2
    assert keys.keyring() is not first


@pytest.mark.django_db
def test_a_rotated_key_signs_after_two_configured_intervals(settings):
    settings.CIAM_KEYS_RELOAD_SECONDS = 3
    keys.keyring()
    before = timezone.now()
    key = keys.signing_key_rotate(algorithm="RS256")
    assert before + timedelta(seconds=6) <= key.active_from <= timezone.now() + timedelta(seconds=6)


def test_the_reload_interval_defaults_to_a_minute(settings):
    del settings.CIAM_KEYS_RELOAD_SECONDS
    assert keys.reload_seconds() == keys.RELOAD_SECONDS == 60
