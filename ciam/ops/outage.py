"""A database that cannot be reached is answered as such: 503 Service Unavailable with
Retry-After, never a 500 page or a traceback.

While PostgreSQL restarts, or is unreachable, a request's queries fail with Django's
``OperationalError`` or ``InterfaceError`` (psycopg's own, where one escapes Django's
wrapper). ``DatabaseOutageMiddleware`` answers such a request with 503 (RFC 9110 15.6.4)
and ``Retry-After`` (RFC 9110 10.2.3): JSON ``{"error": "temporarily_unavailable", ...}`` for
machine clients (the OAuth error of RFC 6749 4.1.2.1 for this condition), a short page for
browsers (an ``Accept`` header naming ``text/html``). Each write is a transaction of its
own: what the request did not commit is not there, and the client may try again.

The connection that failed is closed before answering, so the thread's next request
connects afresh instead of failing on a dead socket (Django's own check at the end of the
request, ``close_old_connections``, would probe it with a query first, which on a half-open
connection waits for TCP to give up).

Where the error is met:

- raised by a view: ``process_exception`` (the hosted pages' ``MIDDLEWARE``), before Django
  turns it into a logged 500;
- raised by another middleware, or in the back-channel handler of ciam/fastpath.py (whose
  short list runs no ``process_exception`` hooks): Django has already made a 500 of it;
  the ``got_request_exception`` receiver marks the request, and the middleware, outside the
  others, answers 503 instead;
- a session that could not be saved after the view: Django's session middleware reports
  any database error there as ``SessionInterrupted``, a 400 ("the session was deleted
  meanwhile"). A 400 or 500 whose request met a database error that left its connection
  closed, broken or never opened is answered 503 too.

Requests answered so are logged as warnings, at most one line every ``LOG_SECONDS`` per
process (with their number), not one traceback each.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation

from ciam.middleware import CONTENT_SECURITY_POLICY

logger = logging.getLogger(__name__)

# RFC 9110 10.2.3: when to try again; the same as /readyz says while the database is down.
RETRY_AFTER_SECONDS = 5
LOG_SECONDS = 10.0
# How far down an exception's causes (``raise ... from``, or raised while handling) to look.
CAUSE_DEPTH = 5
# Set on the request by the receiver: the database error Django made a 500 of.
REQUEST_ATTRIBUTE = "_ciam_database_unavailable"


def _unavailable_error_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [OperationalError, InterfaceError]
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installs
        pass
    else:
        found += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(found)


UNAVAILABLE_ERRORS = _unavailable_error_types()


def database_unavailable_error(error: BaseException | None) -> BaseException | None:
    """The database error behind ``error`` (itself or one of its causes) that says the
    database cannot be reached or used right now, or None."""
    seen = 0
    while error is not None and seen < CAUSE_DEPTH:
        if isinstance(error, UNAVAILABLE_ERRORS):
            return error
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def database_connections_discard() -> None:
    """Close this thread's database connections that met an error or are broken, so the
    next query connects again. Never raises: it runs on the error path."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if not (connection.errors_occurred or _connection_unusable(connection)):
            continue
        try:
            connection.close()
        except Exception:
            # A connection whose close fails is forgotten all the same: the next query
            # opens a new one.
            connection.connection = None


class ConnectionLost(Exception):
    """Stands for the database error a request met when Django kept only its effect (a
    connection closed, broken or never opened, after an error)."""


def _connection_unusable(connection: Any) -> bool:
    raw = connection.connection
    if raw is None:
        return True
    return bool(getattr(raw, "broken", False) or getattr(raw, "closed", False))


def _forget_errors_of_closed_connections() -> None:
    """A connection that is not open has no errors "since the last commit": Django keeps
    the flag of a failed connection attempt until the next one succeeds, and this request
    may make none."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            connection.errors_occurred = False


def _connection_lost() -> BaseException | None:
    """A ConnectionLost when one of this thread's connections met an error in this request
    (Django's ``errors_occurred``) and is closed, broken or was never opened."""
    for connection in connections.all(initialized_only=True):
        if connection.errors_occurred and _connection_unusable(connection):
            return ConnectionLost(f"the {connection.alias!r} connection failed")
    return None


class _OutageLog:
    """At most one warning every LOG_SECONDS per process, with the number answered 503."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged_at = 0.0
        self._unlogged = 0

    def record(self, request: HttpRequest, error: BaseException) -> None:
        with self._lock:
            self._unlogged += 1
            now = time.monotonic()
            if self._logged_at and now - self._logged_at < LOG_SECONDS:
                return
            count, self._unlogged, self._logged_at = self._unlogged, 0, now
        logger.warning(
            "database unavailable: %d request(s) answered 503 (last: %s %s): %s: %s",
            count,
            request.method,
            request.path,
            type(error).__name__,
            str(error).strip().splitlines()[0] if str(error).strip() else "",
        )


outage_log = _OutageLog()


def _wants_html(request: HttpRequest) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def service_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: a short page for browsers, OAuth-style JSON for the rest."""
    response: HttpResponse
    if _wants_html(request):
        language = translation.get_language_from_request(request)
        with translation.override(language):
            # The hosted pages' look (static files and brand.css need no database), rendered
            # without a request, as the 500 page is.
            body = render_to_string("503.html")
        response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
        response["Content-Language"] = language
        # Made outside the pages' own middleware: the hosted pages' policy, set here.
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response["X-Frame-Options"] = "DENY"
    else:
        # RFC 6749 5.2: error_description is ASCII, for the developer: not translated.
        response = JsonResponse(
            {
                "error": "temporarily_unavailable",
                "error_description": "The service is briefly unavailable; try again shortly.",
            },
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    # Counted in this module's own warning: not one more error line per request from
    # Django's handler (django.utils.log.log_response skips a response marked so).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _mark_request(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """got_request_exception: remember a database outage behind the 500 Django is making."""
    if request is None:
        return
    error = database_unavailable_error(sys.exc_info()[1])
    if error is not None:
        setattr(request, REQUEST_ATTRIBUTE, error)


class DatabaseOutageMiddleware:
    """503 with Retry-After for a request the database could not serve (module docstring).

    First in ``MIDDLEWARE`` (after the metrics middleware, which then counts the 503) and in
    ``CIAM_BACKCHANNEL_MIDDLEWARE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        got_request_exception.connect(_mark_request, dispatch_uid="ciam.ops.outage")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        _forget_errors_of_closed_connections()
        response = self.get_response(request)
        if response.status_code not in (400, 500):
            return response
        error = getattr(request, REQUEST_ATTRIBUTE, None) or _connection_lost()
        if error is None:
            return response
        return self._unavailable(request, error)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        error = database_unavailable_error(exception)
        if error is None:
            return None
        return self._unavailable(request, error)

    def _unavailable(self, request: HttpRequest, error: BaseException) -> HttpResponse:
        database_connections_discard()
        outage_log.record(request, error)
        return service_unavailable_response(request)
