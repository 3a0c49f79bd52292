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
- Of those, the common case of token (client_credentials, refresh), introspection and
  UserInfo requests is answered by ``LeanBackchannel`` (ciam/oauth/lean.py) without
  building a Django request or running oauthlib; anything it does not answer goes, with
  its body, to the second handler.
- Everything else goes to Django's handler with the full ``MIDDLEWARE``.
- Before either, a ``Content-Type`` charset that names no text encoding is dropped
  (``without_unusable_charset``).

The live test server routes through this too (tests/conftest.py), so every protocol test
exercises the production path.
"""

from __future__ import annotations

import functools
import io
import logging
import time
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.db import DatabaseError
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from django.middleware.security import SecurityMiddleware
from django.utils.http import parse_header_parameters
from django.utils.module_loading import import_string
from oauth2_provider.models import get_refresh_token_model

from common.request_id import HEADER as REQUEST_ID_HEADER
from common.request_id import request_id_bind, request_id_unbind

from .app_settings import app_settings
from .keys import keyring
from .oauth import lean
from .oauth.rotation import RefreshTokenRaced
from .ops.logs import access_logger, incoming_request_id
from .ops.metrics import request_observe, token_issued_record
from .services.cleanup import maybe_cleanup
from .views.discovery import discovery_bytes

logger = logging.getLogger(__name__)

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


# The requests LeanBackchannel answers: (method, path) -> (URL name, URL pattern).
LEAN_ROUTES = {
    ("POST", "/token"): ("oidc:token", "/token"),
    ("POST", "/introspect"): ("oidc:introspect", "/introspect"),
    ("GET", "/userinfo"): ("oidc:userinfo", "/userinfo"),
}
# A lean request's body is a few hundred bytes; a larger one goes to the full handler.
LEAN_MAX_BODY = 8192
_FORM = "application/x-www-form-urlencoded"
_ASCII_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


def _is_secure(environ: dict[str, Any]) -> bool:
    """``HttpRequest.is_secure`` from the environ (SECURE_PROXY_SSL_HEADER first)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return bool(value.split(",", 1)[0].strip() == secure_value)
    return bool(environ.get("wsgi.url_scheme") == "https")


def _host_allowed(environ: dict[str, Any]) -> bool:
    """Whether ``HttpRequest.get_host`` would accept the request's host."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        return False  # the full handler decides
    host = environ.get("HTTP_HOST", "")
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def _security_headers(secure: bool) -> list[tuple[str, str]]:
    """What ``SecurityMiddleware`` adds to a response of a (secure) request, computed by it
    once per combination of the settings it reads."""
    return _security_headers_for(
        secure,
        settings.SECURE_CONTENT_TYPE_NOSNIFF,
        settings.SECURE_REFERRER_POLICY,
        settings.SECURE_CROSS_ORIGIN_OPENER_POLICY,
        settings.SECURE_HSTS_SECONDS,
        settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
        settings.SECURE_HSTS_PRELOAD,
    )


@functools.lru_cache(maxsize=16)
def _security_headers_for(secure: bool, *settings_read: Any) -> list[tuple[str, str]]:
    response = HttpResponse()
    SecurityMiddleware(lambda request: response).process_response(
        SimpleNamespace(is_secure=lambda: secure),  # type: ignore[arg-type]
        response,
    )
    return [(name, value) for name, value in response.items() if name != "Content-Type"]


def _form_body(environ: dict[str, Any]) -> bytes | None:
    """The body of a POST the lean path may read: a form, not too long, no query string."""
    if environ.get("QUERY_STRING"):
        return None
    main, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
    if main != _FORM or set(params) - {"charset"}:
        return None
    if params and params["charset"].lower() not in _ASCII_CHARSETS:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= LEAN_MAX_BODY:
        return None
    body: bytes = environ["wsgi.input"].read(length)
    # The full handler reads it again if the lean path does not answer.
    environ["wsgi.input"] = io.BytesIO(body)
    return body if len(body) == length else None


class LeanBackchannel:
    """Answers the back-channel requests ciam/oauth/lean.py can, as the Django view would
    (the same body, the security headers, ``X-Request-ID``, the metrics and the access
    line); hands every other one to ``fallback`` (the back-channel handler).

    A database error, or any other, in the lean path rolls back what it wrote and hands the
    request to ``fallback`` too, which then answers it (a 503 when the database is down)."""

    def __init__(self, fallback: WSGIApplication) -> None:
        self.fallback = fallback

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        view_name, route = LEAN_ROUTES[(method, environ.get("PATH_INFO", ""))]
        secure = _is_secure(environ)
        if (settings.SECURE_SSL_REDIRECT and not secure) or not _host_allowed(environ):
            return self.fallback(environ, start_response)
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if method == "GET":
            if environ.get("QUERY_STRING") or environ.get("CONTENT_LENGTH") not in (None, "", "0"):
                return self.fallback(environ, start_response)
            params: dict[str, str] | None = {}
        else:
            body = _form_body(environ)
            params = lean.form_pairs(body) if body is not None else None
        if params is None:
            return self.fallback(environ, start_response)
        started = time.perf_counter()
        signals.request_started.send(sender=self.__class__, environ=environ)
        request_id = incoming_request_id(SimpleNamespace(META=environ))  # type: ignore[arg-type]
        request_id_bind(request_id)
        try:
            status, answer = self._answer(route, authorization, params)
        except DatabaseError:
            answer = None  # the full handler meets the same error and answers it
        except Exception:
            logger.exception("lean back-channel path failed; the full handler answers")
            answer = None
        if answer is None:
            request_id_unbind()
            signals.request_finished.send(sender=self.__class__)
            return self.fallback(environ, start_response)
        try:
            headers = [
                ("Content-Type", "application/json"),
                ("Cache-Control", "no-store"),
            ]
            if route != "/userinfo":
                headers.append(("Pragma", "no-cache"))
            headers += _security_headers(secure)
            headers += [
                (REQUEST_ID_HEADER, request_id),
                ("Content-Length", str(len(answer.body))),
            ]
            reason = "200 OK" if status == 200 else "400 Bad Request"
            start_response(reason, headers)
            seconds = time.perf_counter() - started
            request_observe(endpoint=view_name, method=method, status=status, seconds=seconds)
            if answer.grant and status == 200:
                token_issued_record(grant=answer.grant)
            if access_logger.isEnabledFor(logging.INFO):
                access_logger.info(
                    "%s %s %s",
                    method,
                    route,
                    status,
                    extra={
                        "method": method,
                        "path": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "view": view_name,
                    },
                )
            return [answer.body]
        finally:
            request_id_unbind()
            signals.request_finished.send(sender=self.__class__)

    def _answer(
        self, route: str, authorization: str, params: dict[str, str]
    ) -> tuple[int, lean.LeanAnswer | None]:
        if route == "/userinfo":
            return 200, lean.userinfo_answer(authorization=authorization)
        if route == "/introspect":
            return 200, lean.introspection_answer(authorization=authorization, params=params)
        try:
            answer = lean.token_answer(authorization=authorization, params=params)
        except RefreshTokenRaced as raced:
            # As ciam/services/tokens.py: the rotation is rolled back, the family revoked.
            get_refresh_token_model().revoke_family(raced.token_family)
            return 400, lean.LeanAnswer(raced.json.encode())
        if answer is not None:
            maybe_cleanup()
        return 200, answer


class ProviderApplication:
    """WSGI router: metadata from bytes, back-channel calls to the lean handler, the rest to
    ``application`` (Django with every middleware)."""

    def __init__(
        self, application: WSGIApplication, backchannel: WSGIApplication | None = None
    ) -> None:
        self.application = application
        self.backchannel = backchannel or BackchannelHandler()
        self.lean = LeanBackchannel(self.backchannel)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ = without_unusable_charset(environ)
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if (method, path) in LEAN_ROUTES:
            return self.lean(environ, start_response)
        if path in BACKCHANNEL_PATHS or path.startswith(BACKCHANNEL_PREFIXES):
            return self.backchannel(environ, start_response)
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
