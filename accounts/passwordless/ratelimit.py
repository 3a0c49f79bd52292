"""Fixed-window counters in the Django cache, for throttling per address and per email.

A window starts with its first hit and lasts ``window`` seconds. ``cache.add`` and
``cache.incr`` are atomic in Redis and in the local-memory cache, so concurrent requests
cannot both slip under a limit by reading the same count.
"""

from __future__ import annotations

import hashlib
import time

from allauth.account.adapter import get_adapter as get_account_adapter
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .constants import CACHE_PREFIX


def client_ip(request: HttpRequest) -> str:
    """The client's address as allauth sees it (ALLAUTH_TRUSTED_PROXY_COUNT and
    ALLAUTH_TRUSTED_CLIENT_IP_HEADER apply)."""
    try:
        return get_account_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return "unknown"


def email_key(email: str) -> str:
    """A cache-key part for an address that does not put the address itself in the cache."""
    return hashlib.sha256(email.lower().encode()).hexdigest()[:32]


def key(kind: str, subject: str) -> str:
    return f"{CACHE_PREFIX}:{kind}:{subject}"


def hit(counter: str, *, window: int) -> int:
    """Count one event; the count in the current window."""
    cache.add(f"{counter}:until", time.time() + window, window)
    if cache.add(counter, 1, window):
        return 1
    try:
        return int(cache.incr(counter))
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, window)
        return 1


def retry_after(limits: list[tuple[str, int]]) -> int:
    """Seconds until every counter is under its limit again; 0 when none is reached."""
    now = time.time()
    wait = 0.0
    for counter, limit in limits:
        if int(cache.get(counter, 0)) >= limit:
            until = float(cache.get(f"{counter}:until", now + 1))
            wait = max(wait, until - now, 1.0)
    return int(wait + 0.999)


def clear(counter: str) -> None:
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
    until = cache.get(counter)
    if until is None:
        return 0
    return max(0, int(float(until) - time.time() + 0.999))
