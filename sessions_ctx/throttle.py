"""Throttling: fixed-window counters and cool-downs in the Django cache, the client address.

Every sign-in method counts its failures here (mfa codes, passkeys, email sign-in, and
re-authentication), each under counters of its own:

- a counter is named by a *kind*, namespaced by the app that owns it
  (``"ciam.mfa.failures"``), and a *subject* (``"ip:192.0.2.1"``, ``"user:42"``, a digest
  of an email address): ``counter(kind, subject)``;
- ``hit`` counts one event in a fixed window that starts with the window's first hit and
  lasts ``window`` seconds;
- ``retry_after`` looks at several ``Limit`` (counter, limit, window) at once and answers
  the seconds until every one of them is under its limit again (0: go ahead);
- ``clear`` restarts a counter, ``cooldown_start``/``cooldown_remaining`` keep a single
  running wait (the pause between two emails to one address);
- ``too_many_requests`` turns a response into HTTP 429 with Retry-After.

``cache.add`` and ``cache.incr`` are atomic in Redis and in the local-memory cache, so
concurrent requests cannot both slip under a limit by reading the same count.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import NamedTuple, TypeVar

from allauth.account.adapter import get_adapter as get_account_adapter
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)


class Limit(NamedTuple):
    """At most ``limit`` events on ``counter`` within a window of ``window`` seconds."""

    counter: str
    limit: int
    window: int


def client_ip(request: HttpRequest) -> str:
    """The client's address as allauth sees it (ALLAUTH_TRUSTED_PROXY_COUNT and
    ALLAUTH_TRUSTED_CLIENT_IP_HEADER apply), so that every counter per address counts the
    same address as allauth's own rate limits do."""
    try:
        return str(get_account_adapter(request).get_client_ip(request))
    except PermissionDenied:  # allauth refuses a spoofed or missing trusted header
        return "unknown"


def subject_digest(value: str) -> str:
    """A subject for a value that must not be stored in the cache itself (an email
    address); compared case-insensitively."""
    return hashlib.sha256(value.lower().encode()).hexdigest()[:32]


def counter(kind: str, subject: str) -> str:
    """The cache key of ``kind``'s counter for ``subject``."""
    return f"{kind}:{subject}"


def address_counter(kind: str, request: HttpRequest) -> str:
    """``kind``'s counter for the request's client address."""
    return counter(kind, f"ip:{client_ip(request)}")


def user_counter(kind: str, user_id: object) -> str:
    """``kind``'s counter for one user (by primary key)."""
    return counter(kind, f"user:{user_id}")


def hit(counter: str, *, window: int) -> int:
    """Count one event; the count in the current window (which the first hit starts)."""
    cache.add(f"{counter}:until", time.time() + window, window)
    if cache.add(counter, 1, window):
        return 1
    try:
        return int(cache.incr(counter))
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, window)
        cache.set(f"{counter}:until", time.time() + window, window)
        return 1


def hit_all(limits: Iterable[Limit]) -> None:
    """Count one event on each counter, in its own window."""
    for limit in limits:
        hit(limit.counter, window=limit.window)


def retry_after(limits: Iterable[Limit]) -> int:
    """Seconds until every counter is under its limit again; 0 when none is reached."""
    now = time.time()
    wait = 0.0
    for limit in limits:
        if int(cache.get(limit.counter, 0)) >= limit.limit:
            until = float(cache.get(f"{limit.counter}:until", now + 1))
            wait = max(wait, until - now, 1.0)
    return int(wait + 0.999)


def clear(counter: str) -> None:
    """Restart ``counter`` (e.g. a user's failures after a success)."""
    cache.delete_many([counter, f"{counter}:until"])


def cooldown_start(counter: str, *, seconds: int) -> int:
    """Start a cool-down unless one is running; the seconds left of a running one, or 0."""
    if cache.add(counter, time.time() + seconds, seconds):
        return 0
    remaining = cooldown_remaining(counter)
    if not remaining:  # it ended between the two calls
        cache.set(counter, time.time() + seconds, seconds)
    return remaining


def cooldown_remaining(counter: str) -> int:
    """Seconds left of the cool-down ``counter``; 0 when none is running."""
    until = cache.get(counter)
    if until is None:
        return 0
    return max(0, int(float(until) - time.time() + 0.999))


def too_many_requests(response: ResponseT, *, retry_after: int) -> ResponseT:
    """``response`` as HTTP 429 Too Many Requests (RFC 6585 4) with Retry-After in seconds
    (RFC 9110 10.2.3), at least 1."""
    response.status_code = 429
    response["Retry-After"] = str(max(1, int(retry_after)))
    return response
