"""The Redis cache, made to outlive Redis: while Redis cannot be reached, the cache keeps
nothing, and every request goes on without it.

What the provider keeps in the cache is worth keeping but never worth failing a request
for: rate-limit counters and back-offs (sessions_ctx/throttle.py), allauth's limits,
dashboard figures. Django's own ``RedisCache`` raises ``redis.ConnectionError`` from every
call once Redis is down, and a sign-in or a token request would answer 500. This backend,
``ResilientRedisCache``, answers as an empty cache that stores nothing instead: ``get`` is a
miss, ``add`` and ``set`` store nothing, ``incr`` finds no key. It logs one warning when
Redis is lost and one line when it answers again.

While Redis is down, the limits kept in it are not enforced (a sign-in is never refused for
want of its counter): the outage is logged, and ``/readyz`` reports the Redis check
``unavailable``.

After a failure, calls skip Redis for ``RETRY_SECONDS`` (a miss at once, no connection
attempt), so a Redis that does not answer costs one request per process that long, not
every request the full socket timeout. The next call after that tries again: a Redis back on
its address is used again within ``RETRY_SECONDS``, with no restart. A command that fails on
a pooled connection (Redis restarted meanwhile) is sent once more on a new connection before
Redis counts as down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_SECONDS = 1.0

# Redis servers that failed, by LOCATION, until when (time.monotonic()) they are skipped.
# Per process: Django gives every thread a cache object of its own.
_down_until: dict[str, float] = {}
_down_lock = threading.Lock()


class ResilientRedisCache(RedisCache):
    """Django's ``RedisCache``, as an empty cache that stores nothing while Redis is down."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._location = server if isinstance(server, str) else ",".join(server)

    # --- the outage --------------------------------------------------------------------

    def redis_down(self) -> bool:
        """Whether calls skip Redis now (it failed less than RETRY_SECONDS ago)."""
        until = _down_until.get(self._location)
        return until is not None and time.monotonic() < until

    def _failed(self, operation: str, error: RedisError) -> None:
        with _down_lock:
            first = self._location not in _down_until
            _down_until[self._location] = time.monotonic() + RETRY_SECONDS
        if first:
            logger.warning(
                "cache: Redis is unavailable, the cache keeps nothing until it answers "
                "(%s: %s: %s)",
                operation,
                type(error).__name__,
                error,
            )

    def _answered(self) -> None:
        if self._location not in _down_until:
            return
        with _down_lock:
            recovered = _down_until.pop(self._location, None) is not None
        if recovered:
            logger.warning("cache: Redis answers again, the cache is used again")

    def _call(self, operation: str, call: Callable[[], T], fallback: Callable[[], T]) -> T:
        if self.redis_down():
            return fallback()
        try:
            try:
                result = call()
            except RedisConnectionError:
                # A pooled connection Redis closed (a restart): redis-py has dropped it, and
                # a second try takes a new one.
                result = call()
        except RedisError as error:
            self._failed(operation, error)
            return fallback()
        self._answered()
        return result

    # --- the cache API -----------------------------------------------------------------

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        # An empty cache takes any new key (and forgets it at once).
        return self._call(
            "add", lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), _true
        )

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._call(
            "get",
            lambda: super(ResilientRedisCache, self).get(key, default, version),
            lambda: default,
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._call(
            "set", lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), _none
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call(
            "touch", lambda: super(ResilientRedisCache, self).touch(key, timeout, version), _false
        )

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._call(
            "delete", lambda: super(ResilientRedisCache, self).delete(key, version), _false
        )

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        return self._call(
            "get_many", lambda: super(ResilientRedisCache, self).get_many(keys, version), dict
        )

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._call(
            "has_key", lambda: super(ResilientRedisCache, self).has_key(key, version), _false
        )

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        def missing() -> int:
            # What Django's caches raise for a key they do not hold.
            raise ValueError(f"Key '{key}' not found")

        return self._call(
            "incr", lambda: super(ResilientRedisCache, self).incr(key, delta, version), missing
        )

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        # The keys that were not stored: every one.
        return self._call(
            "set_many",
            lambda: super(ResilientRedisCache, self).set_many(data, timeout, version),
            lambda: list(data),
        )

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        keys = list(keys)
        self._call(
            "delete_many",
            lambda: super(ResilientRedisCache, self).delete_many(keys, version),
            _none,
        )

    def clear(self) -> None:
        self._call("clear", lambda: super(ResilientRedisCache, self).clear(), _none)


def _true() -> bool:
    return True


def _false() -> bool:
    return False


def _none() -> None:
    return None
