"""The id of the request (or unit of work) running in this context: bound by
ciam/ops/logs.py's middleware for each request, carried by every log record and sent as
``X-Request-ID`` on outbound calls (sessions_ctx/outbound.py, accounts/social/adapter.py)."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager

HEADER = "X-Request-ID"

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("ciam_request_id", default="")


def new_request_id() -> str:
    return os.urandom(16).hex()


def current_request_id() -> str:
    """The id bound in this context, or ``""``."""
    return _request_id.get()


def request_id_bind(value: str) -> None:
    """Bind ``value`` in this context (until ``request_id_unbind``)."""
    _request_id.set(value)


def request_id_unbind() -> None:
    _request_id.set("")


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
