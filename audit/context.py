"""The request being served, for entries recorded without one at hand (signal receivers).

``audit.middleware.AuditRequestMiddleware`` sets it for the length of each request; a
contextvar keeps concurrent requests (threads or asyncio tasks) apart.
"""

from __future__ import annotations

import contextvars

from django.http import HttpRequest

_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "audit_current_request", default=None
)


def current_request() -> HttpRequest | None:
    """The request this code runs for, or None (a command, a task, a test without one)."""
    return _current_request.get()


def current_request_set(request: HttpRequest | None) -> contextvars.Token[HttpRequest | None]:
    return _current_request.set(request)


def current_request_reset(token: contextvars.Token[HttpRequest | None]) -> None:
    _current_request.reset(token)
