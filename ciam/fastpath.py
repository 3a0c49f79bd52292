"""Discovery and JWKS answered before Django's middleware.

They are public, the same for every caller, and the most requested documents (relying
parties and resource servers fetch them often). The bytes are the ones the Django views serve
(ciam/views.py), so both paths always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .keys import keyring
from .views import discovery_bytes

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"


class PublicMetadataApplication:
    """WSGI wrapper: GET/HEAD of discovery and JWKS, everything else to Django."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        if method not in ("GET", "HEAD") or path not in (DISCOVERY_PATH, JWKS_PATH):
            return self.application(environ, start_response)
        if path == DISCOVERY_PATH:
            body, etag = discovery_bytes()
            max_age = 3600
        else:
            ring = keyring()
            body, etag, max_age = ring.jwks_json, ring.jwks_etag, 300
        headers = [
            ("Content-Type", "application/json"),
            ("ETag", etag),
            ("Cache-Control", f"public, max-age={max_age}"),
            ("Access-Control-Allow-Origin", "*"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            start_response("304 Not Modified", headers)
            return [b""]
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body if method == "GET" else b""]
