"""Structured logs and the request id.

Every request gets an id: the one the TLS proxy sent in ``CIAM_REQUEST_ID_HEADER``
(``X-Request-ID``; nginx's ``$request_id``) when it is a plain token of at most 128
characters, else a new random one. It is returned in the response's ``X-Request-ID``,
carried by every log record written while the request runs (``request_id``), and sent as
``X-Request-ID`` on the outbound calls the request makes (back-channel logout, webhooks,
Shared Signals: sessions_ctx/outbound.py; social login's token and profile calls:
accounts/social/adapter.py). A call made outside any request (the delivery workers) gets
an id of its own, unless the work binds one with ``bound_request_id()``.

``LOG_FORMAT=json`` (the default when DEBUG is off) writes one JSON object per line to
standard error, through python-json-logger: ``time`` (UTC, ISO 8601), ``level``,
``logger``, ``message``, ``request_id``, ``exc_info`` when there is a traceback, and any
``extra`` fields. ``LOG_FORMAT=text`` writes plain lines. The ``ciam.access`` logger writes
one record per request at INFO (method, URL pattern, status, duration, view)
when ``LOG_LEVEL=INFO``; granian's own access log stays off.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._:@+=-]{1,128}")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("ciam_request_id", default="")

access_logger = logging.getLogger("ciam.access")


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The id of the request (or unit of work) running in this context, or ``""``."""
    return _request_id.get()


def outbound_request_id() -> str:
    """The id to send on an outbound call: the current one, or outside any request or bound
    unit of work a new one for this call alone."""
    return _request_id.get() or new_request_id()


@contextmanager
def bound_request_id(value: str | None = None) -> Iterator[str]:
    """Run a unit of work outside a request under its own id."""
    token = _request_id.set(value or new_request_id())
    try:
        yield _request_id.get()
    finally:
        _request_id.reset(token)


def incoming_request_id(request: HttpRequest) -> str:
    header = getattr(settings, "CIAM_REQUEST_ID_HEADER", HEADER)
    if header:
        value = request.headers.get(header, "")
        if _VALID.fullmatch(value):
            return value
    return new_request_id()


class RequestIdMiddleware:
    """Outermost: binds the request id for the whole request, answers it in
    ``X-Request-ID`` and writes the access record."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        value = incoming_request_id(request)
        # Bound until the response is closed (request_finished), not only while the
        # middleware runs: Django logs a 4xx answer after the middleware has returned.
        _request_id.set(value)
        started = time.perf_counter()
        response = self.get_response(request)
        response[HEADER] = value
        if access_logger.isEnabledFor(logging.INFO):
            # The URL pattern, not the path: a path can carry a secret (an emailed sign-in
            # link's token).
            match = getattr(request, "resolver_match", None)
            path = "/" + match.route if match and match.route else request.path[:200]
            access_logger.info(
                "%s %s %s",
                request.method,
                path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "view": match.view_name if match else "",
                },
            )
        return response


@receiver(request_finished)
def _request_id_unbind(**kwargs: Any) -> None:
    _request_id.set("")


class RequestIdFilter(logging.Filter):
    """Gives every record ``request_id`` (``""`` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line, with stable key names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_record["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_record, record, message_dict)
