"""Throttling: fixed-window counters, exponential back-offs and cool-downs in the Django
cache, the client address.

Every sign-in method counts its failures here (passwords, mfa codes, passkeys, email
sign-in, and re-authentication), each under counters of its own:

- a counter is named by a *kind*, namespaced by the app that owns it
  (``"ciam.mfa.failures"``), and a *subject* (``"ip:192.0.2.1"``, ``"user:42"``, a digest
  of an email address): ``counter(kind, subject)``;
- ``hit`` counts one event in a fixed window that starts with the window's first hit and
  lasts ``window`` seconds;
- ``retry_after`` looks at several ``Limit`` (counter, limit, window) at once and answers
  the seconds until every one of them is under its limit again (0: go ahead);
- ``clear`` restarts a counter, ``cooldown_start``/``cooldown_remaining`` keep a single
  running wait (the pause between two emails to one address);
- ``backoff_admit`` lets an attempt through a ``Backoff`` (exponential back-off: after a
  number of free failures, each further one makes the next attempt wait twice as long) or
  refuses it with the seconds to wait; ``backoff_forgive`` takes an admitted attempt back
  when it succeeded;
- ``too_many_requests`` turns a response into HTTP 429 with Retry-After.

Subjects are normal forms, so that no spelling of the same thing gets a counter of its
own: ``address_subject`` groups an IPv6 client by its network (ALLAUTH_RATE_LIMIT_IPV6_PREFIX,
/64 by default: one subscriber's allocation), ``email_digest`` folds an email address the
way every lookup of an account could match it (case, Unicode compatibility forms, IDNA).

``cache.add`` and ``cache.incr`` are atomic in Redis and in the local-memory cache, so
concurrent requests cannot both slip under a limit by reading the same count.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from allauth import app_settings as allauth_settings
from allauth.account.adapter import get_adapter as get_account_adapter
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
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
    except ImproperlyConfigured:  # fewer X-Forwarded-For entries than trusted proxies
        return "unknown"


def address_subject(request: HttpRequest) -> str:
    """The subject of the request's client address: an IPv4 address as such (also when
    IPv6-mapped), an IPv6 address as its network of ALLAUTH_RATE_LIMIT_IPV6_PREFIX bits,
    which one subscriber holds whole (as allauth's own rate limits count it)."""
    ip = client_ip(request)
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return f"ip:{ip}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        prefix = allauth_settings.RATE_LIMIT_IPV6_PREFIX
        network = ipaddress.IPv6Network(f"{address}/{prefix}", strict=False)
        return f"ip:{network}"
    return f"ip:{address}"


def subject_digest(value: str) -> str:
    """A subject for a value that must not be stored in the cache itself (an email
    address); compared case-insensitively."""
    # surrogatepass: a lone surrogate (from a JSON escape) is hashed, not a server error.
    return hashlib.sha256(value.lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


def email_normal_form(value: str) -> str:
    """``value`` (an email address as typed) in the one form that every spelling of it a
    sign-in could match shares: surrounding space and trailing dots of the domain dropped,
    Unicode compatibility forms folded (NFKC: fullwidth letters, ligatures), case folded as
    a case-insensitive database comparison folds it (upper then lower: the dotless i and
    the long s match "i" and "s" under PostgreSQL's UPPER), the domain in its IDNA
    (punycode) form, as Django's email validation checks it. A domain that IDNA cannot
    encode keeps its folded form."""
    text = unicodedata.normalize("NFKC", value.strip())
    text = unicodedata.normalize("NFKC", text.upper().lower())
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    # IDNA's other full stop (U+3002; NFKC has folded the fullwidth and halfwidth ones).
    domain = domain.replace("\u3002", ".").strip().rstrip(".")
    # An empty or over-long label, a character IDNA prohibits: no account has such an
    # address, and the folded form serves.
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii").lower()
    return f"{local}@{domain}"


def email_digest(value: str) -> str:
    """``subject_digest`` of the email address's normal form (``email_normal_form``)."""
    return subject_digest(email_normal_form(value))


def counter(kind: str, subject: str) -> str:
    """The cache key of ``kind``'s counter for ``subject``."""
    return f"{kind}:{subject}"


def address_counter(kind: str, request: HttpRequest) -> str:
    """``kind``'s counter for the request's client address."""
    return counter(kind, address_subject(request))


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
    """Restart ``counter`` (e.g. a user's failures after a success), and end its back-off."""
    cache.delete_many([counter, f"{counter}:until", _wait_key(counter)])


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


# --- exponential back-off ----------------------------------------------------------------


class Backoff(NamedTuple):
    """Attempts on ``counter`` within a window of ``window`` seconds (started by the first):
    the first ``free`` go through at once; each further one makes the next wait ``base``
    seconds, doubled with every attempt since, at most ``cap``."""

    counter: str
    free: int
    window: int
    base: int
    cap: int

    def wait_after(self, count: int) -> int:
        """The wait the ``count``-th attempt of the window starts (0: none)."""
        if count <= self.free or self.base <= 0:
            return 0
        doublings = min(count - self.free - 1, 40)
        return min(self.cap, self.base * (1 << doublings))


@dataclass
class BackoffAttempt:
    """One admitted attempt: counted on each back-off's counter (as if it failed) and, past
    a back-off's free attempts, the wait before the next one started."""

    counted: list[Backoff] = field(default_factory=list)
    waits_started: list[Backoff] = field(default_factory=list)


def _wait_key(counter: str) -> str:
    return f"{counter}:wait"


def _uncount(counter: str) -> None:
    with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to take back
        cache.decr(counter)


def _wait_start(counter: str, seconds: int) -> bool:
    """Start ``counter``'s wait unless one is running; whether it was started here."""
    key = _wait_key(counter)
    until = time.time() + seconds
    if cache.add(key, until, seconds):
        return True
    running = cache.get(key)
    if running is not None and float(running) > time.time():
        return False
    # A wait that has ended but whose key outlived it (the cache rounds expiries up).
    cache.delete(key)
    return bool(cache.add(key, until, seconds))


def backoff_remaining(backoffs: Iterable[Backoff]) -> int:
    """Seconds until every back-off's running wait has ended; 0 when none runs."""
    keys = [_wait_key(backoff.counter) for backoff in backoffs]
    now = time.time()
    wait = max((float(until) - now for until in cache.get_many(keys).values()), default=0.0)
    return max(0, int(wait + 0.999))


def backoff_admit(backoffs: Sequence[Backoff]) -> tuple[BackoffAttempt | None, int]:
    """Admit one attempt, ``(attempt, 0)``, or refuse it, ``(None, seconds to wait)``.

    The attempt is counted before it is made, so that concurrent attempts cannot all pass
    the check and then fail: of those arriving together past the free ones, only the one
    that starts the next wait goes through. A refused attempt is not counted (waiting
    clients that try again do not lengthen their own wait)."""
    wait = backoff_remaining(backoffs)
    if wait:
        return None, wait
    attempt = BackoffAttempt()
    for backoff in backoffs:
        count = hit(backoff.counter, window=backoff.window)
        attempt.counted.append(backoff)
        seconds = backoff.wait_after(count)
        if not seconds:
            continue
        if not _wait_start(backoff.counter, seconds):
            backoff_forgive(attempt)
            return None, max(1, backoff_remaining([backoff]))
        attempt.waits_started.append(backoff)
    return attempt, 0


def backoff_forgive(attempt: BackoffAttempt) -> None:
    """Take an admitted attempt back (it succeeded): uncounted, and the waits it started
    ended."""
    for backoff in attempt.counted:
        _uncount(backoff.counter)
    if attempt.waits_started:
        cache.delete_many([_wait_key(backoff.counter) for backoff in attempt.waits_started])
    attempt.counted.clear()
    attempt.waits_started.clear()


def too_many_requests(response: ResponseT, *, retry_after: int) -> ResponseT:
    """``response`` as HTTP 429 Too Many Requests (RFC 6585 4) with Retry-After in seconds
    (RFC 9110 10.2.3), at least 1."""
    response.status_code = 429
    response["Retry-After"] = str(max(1, int(retry_after)))
    return response
