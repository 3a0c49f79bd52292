"""Liveness and readiness probes: /healthz never looks past the process; /readyz names each
check, answers 503 with Retry-After when one fails, and never a 500 or a traceback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from jwcrypto import jwk

from ciam import keys
from ciam.keys import Keyring, LoadedKey
from ciam.ops import health
from tests.redis_server import redis_url  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def _body(response) -> dict:
    return json.loads(response.content)


def _assert_unavailable(response) -> dict:
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "application/json"
    body = _body(response)
    assert body["status"] == "unavailable"
    assert "Traceback" not in response.content.decode()
    return body["checks"]


def _keyring(*loaded: LoadedKey) -> Keyring:
    return Keyring(keys=loaded, jwks_json=b"{}", jwks_etag='"x"', loaded_at=time.monotonic())


def test_healthz_answers_ok_without_touching_the_database(client, django_assert_num_queries):
    """GET /healthz: 200 {"status": "ok"}, JSON, not cached, and no query at all."""
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert _body(response) == {"status": "ok"}
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"


def test_healthz_takes_get_and_head_only(client):
    """HEAD works as GET; POST is refused with 405 (no CSRF page)."""
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_readyz_ok_names_every_check(client, fresh_migrations_check):
    """Database up, migrations applied, a signing key, no Redis configured: 200."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert _body(response) == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "signing_key": "ok", "redis": "skipped"},
    }


def test_readyz_503_when_the_database_fails(client, monkeypatch, caplog):
    """A failing database check answers 503; the checks that need the database are not
    run; the reason is logged, never sent."""

    def broken() -> str:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(health, "database_check", broken)
    monkeypatch.setattr(health, "signing_key_check", lambda: pytest.fail("not run"))
    checks = _assert_unavailable(client.get("/readyz"))
    assert checks == {
        "database": "unavailable",
        "migrations": "unknown",
        "signing_key": "unknown",
        "redis": "skipped",
    }
    assert "server closed" in caplog.text


def test_readyz_503_while_a_migration_is_unapplied(client, monkeypatch, fresh_migrations_check):
    """An unapplied migration keeps the process out of rotation, and is checked again at the
    next probe (only "all applied" is remembered)."""
    plans = []

    def pending(self, targets):
        plans.append(targets)
        return [(object(), False)]

    monkeypatch.setattr(health.MigrationExecutor, "migration_plan", pending)
    assert _assert_unavailable(client.get("/readyz"))["migrations"] == "pending"
    assert _assert_unavailable(client.get("/readyz"))["migrations"] == "pending"
    assert len(plans) == 2


def test_migrations_all_applied_is_remembered(client, monkeypatch, fresh_migrations_check):
    """Once every migration was seen applied, the graph is not loaded again."""
    assert client.get("/readyz").status_code == 200

    class Unusable:
        def __init__(self, connection):
            raise AssertionError("the migration graph was loaded again")

    monkeypatch.setattr(health, "MigrationExecutor", Unusable)
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    "loaded",
    [
        pytest.param((), id="no-key"),
        pytest.param(
            (
                LoadedKey(
                    kid="retired",
                    algorithm="RS256",
                    jwk=jwk.JWK.generate(kty="EC", crv="P-256"),
                    active_from=timezone.now() - timedelta(days=2),
                    retired_at=timezone.now() - timedelta(days=1),
                ),
            ),
            id="retired-only",
        ),
        pytest.param(
            (
                LoadedKey(
                    kid="public",
                    algorithm="ES256",
                    jwk=jwk.JWK.from_json(jwk.JWK.generate(kty="EC", crv="P-256").export_public()),
                    active_from=timezone.now() - timedelta(days=1),
                    retired_at=None,
                ),
            ),
            id="public-part-only",
        ),
    ],
)
def test_readyz_503_without_a_usable_signing_key(client, monkeypatch, loaded):
    """No key that signs now (none, only retired ones, no private part): not ready."""
    monkeypatch.setattr(health, "keyring", lambda: _keyring(*loaded))
    assert _assert_unavailable(client.get("/readyz"))["signing_key"] == "missing"


def test_readyz_503_when_the_configured_key_file_is_unreadable(client, settings):
    """CIAM_SIGNING_KEY_FILE pointing nowhere: every token would fail, so not ready."""
    settings.CIAM_SIGNING_KEY_FILE = "/nonexistent/signing-key.pem"
    keys._keyring = None
    assert _assert_unavailable(client.get("/readyz"))["signing_key"] == "unavailable"


def test_readyz_never_answers_500(client, monkeypatch):
    """Even when the checks themselves cannot run: 503, an empty list of checks."""

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(health, "readiness", broken)
    assert _assert_unavailable(client.get("/readyz")) == {}


def test_redis_urls_come_from_the_cache_and_the_channel_layer(settings):
    """Every Redis the web processes use, each once; other backends are not Redis."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://cache:6379/0;redis://replica:6379/0",
        },
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": ["redis://cache:6379/0", {"address": "redis://layer:6379/1"}, ("h", 1)]
            },
        }
    }
    assert health.redis_urls() == [
        "redis://cache:6379/0",
        "redis://replica:6379/0",
        "redis://layer:6379/1",
        "redis://h:1",
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_layer(url: str) -> dict:
    return {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }


def test_readyz_checks_a_configured_redis(client, settings, redis_url):  # noqa: F811
    """A Redis that answers PING is "ok"."""
    settings.CHANNEL_LAYERS = _redis_layer(redis_url)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert _body(response)["checks"]["redis"] == "ok"


def test_readyz_503_when_redis_is_down_and_required(client, settings):
    """A configured Redis that refuses connections, with CIAM_READYZ_REQUIRES_REDIS: not
    ready."""
    settings.CIAM_READYZ_REQUIRES_REDIS = True
    settings.CHANNEL_LAYERS = _redis_layer(f"redis://127.0.0.1:{_closed_port()}/0")
    assert _assert_unavailable(client.get("/readyz"))["redis"] == "unavailable"


def test_readyz_degraded_when_redis_is_down(client, settings):
    """By default a Redis outage leaves the process in the load balancer: it serves without
    its cache (ciam/ops/cache.py); the answer says so."""
    settings.CHANNEL_LAYERS = _redis_layer(f"redis://127.0.0.1:{_closed_port()}/0")
    response = client.get("/readyz")
    assert response.status_code == 200
    body = _body(response)
    assert body["status"] == "degraded"
    assert body["checks"]["redis"] == "unavailable"
    assert body["checks"]["database"] == "ok"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_a_redis_that_never_answers_is_given_up_on_in_time(
    client, settings, monkeypatch, silent_server
):
    """The Redis check waits CHECK_TIMEOUT_SECONDS at most, then reports it unavailable."""
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.3)
    settings.CIAM_READYZ_REQUIRES_REDIS = True
    settings.CHANNEL_LAYERS = _redis_layer(f"redis://127.0.0.1:{silent_server}/0")
    started = time.monotonic()
    checks = _assert_unavailable(client.get("/readyz"))
    assert time.monotonic() - started < 2.0
    assert checks["redis"] == "unavailable"


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's")
def test_postgresql_checks_run_under_a_statement_timeout(monkeypatch):
    """On PostgreSQL a check's statements are cancelled after CHECK_TIMEOUT_SECONDS."""
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.2)
    with health.bounded_statements() as bounded, bounded.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "200ms"

    def slow() -> str:
        with health.bounded_statements() as bounded, bounded.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(5)")
        return health.OK

    monkeypatch.setattr(health, "database_check", slow)
    started = time.monotonic()
    assert health.readiness().checks["database"] == "unavailable"
    assert time.monotonic() - started < 2.0
