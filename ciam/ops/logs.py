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

import functools
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from common.request_id import (
    HEADER,
    bound_request_id,
    current_request_id,
    new_request_id,
    outbound_request_id,
    request_id_bind,
    request_id_unbind,
)

__all__ = [
    "HEADER",
    "JsonFormatter",
    "RequestIdFilter",
    "RequestIdMiddleware",
    "bound_request_id",
    "current_request_id",
    "outbound_request_id",
]

_VALID = re.compile(r"[A-Za-z0-9._:@+=-]{1,128}")

access_logger = logging.getLogger("ciam.access")


@functools.cache
def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def incoming_request_id(request: HttpRequest) -> str:
    """The proxy's id when the provider is behind a trusted proxy (which sets the header
    itself) and the value is a plain token; otherwise a new one: a client's own header is
    never taken for an id."""
    header = getattr(settings, "CIAM_REQUEST_ID_HEADER", HEADER)
    if header and getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0) > 0:
        value = request.META.get(_meta_key(header), "")
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
        request_id_bind(value)
        started = time.perf_counter()
        response = self.get_response(request)
        response[HEADER] = value
        if access_logger.isEnabledFor(logging.INFO):
            # The URL pattern, not the path: a path can carry a secret (an emailed sign-in
            # link's token).
            match = getattr(request, "resolver_match", None)
            path = "/" + match.route if match and match.route else "<unresolved>"
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
    request_id_unbind()


class RequestIdFilter(logging.Filter):
    """Gives every record ``request_id`` (``""`` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line, with stable key names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("json_ensure_ascii", False)
        # Django's request loggers pass the request as an extra field: its text is the full
        # path with the query (an access token, a login hint). Never written.
        kwargs.setdefault("reserved_attrs", (*RESERVED_ATTRS, "request"))
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_record["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_record, record, message_dict)
