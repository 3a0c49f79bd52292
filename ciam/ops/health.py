"""Readiness: the checks behind ``/readyz``, each bounded in time, none of them raising.

- ``database``: ``SELECT 1``. On PostgreSQL every statement of a check runs under a
  ``statement_timeout`` of ``CHECK_TIMEOUT_SECONDS`` (lock waits included); connecting waits
  at most ``DATABASE_CONNECT_TIMEOUT`` (ciam/settings.py).
- ``migrations``: no unapplied migration (Django's plan to every leaf node is empty). Loading
  the migration graph reads every migration file, so a process that has seen them all
  applied remembers it: migrations only arrive with new code, and new code runs in new
  worker processes.
- ``signing_key``: the process's keyring (ciam/keys.py, loaded as the token endpoint loads
  it) holds a key that signs now, its private part included.
- ``redis``: every Redis these processes use answers PING (a failure leaves the process
  ready but ``degraded``, unless ``CIAM_READYZ_REQUIRES_REDIS``): the cache (``CACHE_URL`` or
  ``REDIS_URL``) and the channel layer (``CIAM_CHANNEL_LAYER_URL`` or ``REDIS_URL``), within
  ``CHECK_TIMEOUT_SECONDS`` to connect and as much to answer; ``skipped`` when none is
  configured. The events stream's Redis (``CIAM_EVENTS_STREAM_URL``) is
  ``manage.py events_stream``'s, not the web processes'.

The checks that read the database are not run once the database check failed (``unknown``):
each would wait for the same unreachable server again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor

from ..keys import ALGORITHMS, keyring

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0

OK = "ok"
PENDING = "pending"
MISSING = "missing"
UNAVAILABLE = "unavailable"
UNKNOWN = "unknown"
SKIPPED = "skipped"
# Results that leave the process ready.
READY_RESULTS = frozenset({OK, SKIPPED})

# Set once this process has seen every migration applied (see the module docstring).
_migrations_applied = False

_redis_clients: dict[tuple[str, float], Any] = {}
_redis_lock = threading.Lock()


@dataclass(frozen=True)
class Readiness:
    """Each check's result by its name."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        """Every check ok or skipped, Redis aside unless ``CIAM_READYZ_REQUIRES_REDIS``: the
        provider serves without Redis (its cache then keeps nothing: ciam/ops/cache.py), so
        a Redis outage must not take every process out of the load balancer at once."""
        requires_redis = getattr(settings, "CIAM_READYZ_REQUIRES_REDIS", False)
        return all(
            result in READY_RESULTS
            for name, result in self.checks.items()
            if name != "redis" or requires_redis
        )

    @property
    def degraded(self) -> bool:
        """Ready, with a check that failed all the same (Redis)."""
        return self.ready and any(r not in READY_RESULTS for r in self.checks.values())


@contextmanager
def bounded_statements(using: str = DEFAULT_DB_ALIAS) -> Iterator[BaseDatabaseWrapper]:
    """The connection, with every statement run inside the block limited to
    ``CHECK_TIMEOUT_SECONDS`` on PostgreSQL (``statement_timeout`` for this transaction
    only). SQLite reads a local file and is left as it is: a transaction there would take
    the write lock (``transaction_mode`` IMMEDIATE) and wait for every writer."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield connection
        return
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            # set_config, not SET: a bound parameter works with server-side binding too.
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                [str(int(CHECK_TIMEOUT_SECONDS * 1000))],
            )
        yield connection


def database_check() -> str:
    with bounded_statements() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    return OK if row is not None and row[0] == 1 else UNAVAILABLE


def migrations_check() -> str:
    global _migrations_applied
    if _migrations_applied:
        return OK
    with bounded_statements() as connection:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return PENDING
    _migrations_applied = True
    return OK


def signing_key_check() -> str:
    with bounded_statements():
        ring = keyring()
    for algorithm in ALGORITHMS:
        key = ring.active(algorithm)
        if key is not None and key.jwk.has_private:
            return OK
    return MISSING


def _cache_redis_urls(caches: dict[str, Any]) -> Iterator[str]:
    for cache in caches.values():
        if "redis" not in str(cache.get("BACKEND", "")).lower():
            continue
        location = cache.get("LOCATION") or ""
        # Django's RedisCache: a list, or servers separated by "," or ";" (first: the writer).
        servers = location if isinstance(location, list | tuple) else [location]
        for server in servers:
            yield from str(server).replace(";", ",").split(",")


def _channel_layer_redis_urls(layers: dict[str, Any]) -> Iterator[str]:
    for layer in layers.values():
        if "redis" not in str(layer.get("BACKEND", "")).lower():
            continue
        for host in (layer.get("CONFIG") or {}).get("hosts", []):
            # channels_redis hosts: a URL, {"address": URL, ...} or (host, port).
            if isinstance(host, str):
                yield host
            elif isinstance(host, dict) and isinstance(host.get("address"), str):
                yield host["address"]
            elif isinstance(host, list | tuple) and len(host) == 2:
                yield f"redis://{host[0]}:{host[1]}"


def redis_urls() -> list[str]:
    """Every Redis the web processes use (cache, channel layer), each once."""
    found: Iterable[str] = (
        *_cache_redis_urls(getattr(settings, "CACHES", {})),
        *_channel_layer_redis_urls(getattr(settings, "CHANNEL_LAYERS", {})),
    )
    return list(dict.fromkeys(url.strip() for url in found if url.strip()))


def _redis_client(url: str) -> Any:
    """A client per URL and timeout, kept for the process (its pool reconnects by itself);
    no retry, so one PING waits at most the timeouts."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    key = (url, CHECK_TIMEOUT_SECONDS)
    with _redis_lock:
        client = _redis_clients.get(key)
        if client is None:
            client = redis.Redis.from_url(
                url,
                socket_timeout=CHECK_TIMEOUT_SECONDS,
                socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
            )
            _redis_clients[key] = client
    return client


def redis_check() -> str:
    urls = redis_urls()
    if not urls:
        return SKIPPED
    for url in urls:
        if not _redis_client(url).ping():
            return UNAVAILABLE
    return OK


def _result(name: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as error:
        # The probe's answer names the check; the log says why (never the response).
        logger.warning("readiness: the %s check failed: %s: %s", name, type(error).__name__, error)
        return UNAVAILABLE


def readiness() -> Readiness:
    """Every check's result; the process is ready when each is ``ok`` or ``skipped``."""
    checks = {"database": _result("database", database_check)}
    if checks["database"] == OK:
        checks["migrations"] = _result("migrations", migrations_check)
        checks["signing_key"] = _result("signing_key", signing_key_check)
    else:
        checks["migrations"] = checks["signing_key"] = UNKNOWN
    checks["redis"] = _result("redis", redis_check)
    return Readiness(checks=checks)
