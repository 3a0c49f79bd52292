"""Strict reading of the form bodies sent to the back-channel endpoints.

RFC 6749 3.2 and appendix B: parameters travel as application/x-www-form-urlencoded in the
body, each at most once; a client uses one authentication method per request (2.3).
Anything else is answered with invalid_request before the OAuth machinery sees it.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl, unquote_plus

from django.http import HttpRequest

BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class MalformedRequest(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def form_params(request: HttpRequest, *, allow_query: bool = False) -> list[tuple[str, str]]:
    """The body's parameters, decoded strictly; raises MalformedRequest."""
    if request.GET and not allow_query:
        raise MalformedRequest("Send the parameters in the request body, not in the URL.")
    if request.content_type != "application/x-www-form-urlencoded":
        raise MalformedRequest("Use Content-Type application/x-www-form-urlencoded.")
    try:
        text = request.body.decode("ascii")
    except UnicodeDecodeError as error:
        raise MalformedRequest("The body must be URL-encoded ASCII.") from error
    if BAD_ESCAPE.search(text):
        raise MalformedRequest("The body has an invalid percent-escape.")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedRequest("The body is not valid UTF-8 once decoded.") from error
    seen: set[str] = set()
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise MalformedRequest("The body contains a NUL character.")
        if key in seen:
            raise MalformedRequest(f"The {key} parameter appears more than once.")
        seen.add(key)
    return pairs


def basic_client_id(request: HttpRequest) -> str | None:
    """The client_id of an HTTP Basic Authorization header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
    return unquote_plus(decoded.split(":", 1)[0])


def check_single_client_authentication(request: HttpRequest, params: list[tuple[str, str]]) -> None:
    """RFC 6749 2.3: Basic credentials and body credentials are not combined."""
    basic_id = basic_client_id(request)
    if basic_id is None:
        return
    body = dict(params)
    if "client_secret" in body:
        raise MalformedRequest("Use one client authentication method, not two.")
    if "client_id" in body and body["client_id"] != basic_id:
        raise MalformedRequest("client_id does not match the authenticated client.")
