"""What the WSGI server calls first: the provider's requests sorted by what they need.

- Discovery and JWKS are public, the same for every caller and the most requested
  documents: they are answered here from precomputed bytes (the ones the Django views serve,
  ciam/views.py, so both paths always agree), before any Django machinery.
- The back-channel endpoints (token, userinfo, introspection, revocation, and the back-end
  APIs under /api/consent/ and /api/profile/) are called by servers, not browsers: no
  cookie, session, CSRF token, language or message is read or written there. They run
  through a second Django handler whose middleware is ``CIAM_BACKCHANNEL_MIDDLEWARE``
  (security headers only) instead of the dozen the hosted pages need, with the same URLs,
  views and error handling.
- Everything else goes to Django's handler with the full ``MIDDLEWARE``.
- Before either, a ``Content-Type`` charset that names no text encoding is dropped
  (``without_unusable_charset``).

The live test server routes through this too (tests/conftest.py), so every protocol test
exercises the production path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.http import parse_header_parameters
from django.utils.module_loading import import_string

from .app_settings import app_settings
from .keys import keyring
from .views.discovery import discovery_bytes

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"
# The operators' probes and scrape (ciam/ops) take the same lean handler.
BACKCHANNEL_PATHS = frozenset(
    {"/token", "/userinfo", "/introspect", "/revoke", "/healthz", "/readyz", "/metrics"}
)
# The back-end APIs (ciam/api.py): machine clients with Bearer tokens, no browser.
BACKCHANNEL_PREFIXES = (
    "/api/consent/",
    "/api/profile/",
    "/api/interactions/",
    "/api/customers/",
    "/api/events/",
    "/api/personalization/",
    "/ssf/",
)

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _text_encoding(name: str) -> bool:
    """Whether ``name`` decodes bytes to text the way Django decodes a request with it
    (errors replaced; an empty input would not even reach the codec)."""
    try:
        b"a\xff".decode(name, "replace")
    except (LookupError, ValueError):  # UnicodeError included (idna refuses "replace")
        return False
    return True


def without_unusable_charset(environ: dict[str, Any]) -> dict[str, Any]:
    """``environ`` without a Content-Type charset that decodes no text.

    Django makes any charset ``codecs`` knows the request's encoding, and decodes the query
    string with it while it builds the request, before any middleware or error handling:
    a codec that is not a text encoding (``base64``, ``rot13``, ``zlib``), one that refuses
    the ``replace`` error handler (``idna``) or a name with a NUL raises there, an error no
    page answers. Such a charset is dropped, as Django already ignores one it does not know
    (``x-unknown``); the other parameters are kept.
    """
    content_type = environ.get("CONTENT_TYPE", "")
    if "charset" not in content_type.lower():
        return environ
    main, params = parse_header_parameters(content_type)
    if "charset" not in params or _text_encoding(params["charset"]):
        return environ
    kept = [f'{name}="{value}"' for name, value in params.items() if name != "charset"]
    return {**environ, "CONTENT_TYPE": "; ".join([main, *kept])}


class BackchannelHandler(WSGIHandler):
    """Django's WSGI handler with ``CIAM_BACKCHANNEL_MIDDLEWARE`` as its middleware.

    Only plain (``__call__``) middleware fits this short list, and ``process_exception``
    (the database outage's 503, ciam/ops/outage.py); none of it may need process_view or
    process_template_response hooks.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(app_settings.BACKCHANNEL_MIDDLEWARE):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.insert(0, instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class ProviderApplication:
    """WSGI router: metadata from bytes, back-channel calls to the lean handler, the rest to
    ``application`` (Django with every middleware)."""

    def __init__(
        self, application: WSGIApplication, backchannel: WSGIApplication | None = None
    ) -> None:
        self.application = application
        self.backchannel = backchannel or BackchannelHandler()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ = without_unusable_charset(environ)
        path = environ.get("PATH_INFO", "")
        if path in BACKCHANNEL_PATHS or path.startswith(BACKCHANNEL_PREFIXES):
            return self.backchannel(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
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
