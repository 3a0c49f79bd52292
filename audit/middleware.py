"""Keeps the current request (address, browser, user) where audit receivers can read it.

Place after AuthenticationMiddleware. Nothing is computed here: the address and the user
agent are read only when an entry is recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from .context import current_request_reset, current_request_set


class AuditRequestMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        token = current_request_set(request)
        try:
            response: HttpResponse = self.get_response(request)
        finally:
            current_request_reset(token)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        token = current_request_set(request)
        try:
            response: HttpResponse = await self.get_response(request)
        finally:
            current_request_reset(token)
        return response
