"""SignInEventMiddleware: a sign-in's ``user.signed_in`` written once, at the end of its
request, with the method the sign-in stated last (events.receivers.sign_in_event_flush).

Placed right after sessions_ctx's SessionContextMiddleware (ciam/settings.py, events block).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .receivers import REQUEST_DEFERS_SIGN_IN, sign_in_event_flush

logger = logging.getLogger(__name__)


class SignInEventMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        setattr(request, REQUEST_DEFERS_SIGN_IN, True)
        try:
            return self.get_response(request)
        finally:
            setattr(request, REQUEST_DEFERS_SIGN_IN, False)
            try:
                sign_in_event_flush(request)
            except Exception:  # the sign-in stands; its event is missing: say so loudly
                logger.exception("events: the sign-in event of this request was not written")
