"""The provider driven through its production WSGI application, with every answer checked.

``Provider.send`` builds a WSGI environ from raw parts (bytes of the path and query as a
server would pass them, any header, any body) and calls ``ciam.wsgi.application``: the
router of ciam/fastpath.py, then the back-channel handler or Django with every middleware.
Each answer is checked for what must never happen, whatever the input:

- a status of 500 or more (an exception escaping the router counts as one);
- a redirect (``Location``) to anything but a same-origin path, the issuer's own origin, or
  a redirect_uri or post_logout_redirect_uri registered by one of the test clients (scheme,
  host, port and path compared exactly, as RFC 9700 4.1.3 asks);
- in a text/html answer, a marker of the request reflected unescaped: a tag
  (``<x-fuzz-N``) or a quote that breaks out of an attribute (``" data-x-fuzz-N=``), or a
  link, form or refresh pointing at the hostile origin the inputs name.

Every call is counted (``Provider.count``), so a test can show how many requests it made.
"""

from __future__ import annotations

import io
import json
import re
import sys
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from django.conf import settings
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections

# A hostile origin the strategies put in URLs; nothing may send a browser there.
HOSTILE_HOST = "evil.example"
REFLECTED_TAG = re.compile(rb"<x-fuzz-\d+")
REFLECTED_ATTRIBUTE = re.compile(rb"(?<!\\)[\"'] ?data-x-fuzz-\d+=")
# A link, form, frame or refresh whose target starts with the hostile origin or a script.
_HOSTILE_TARGET = (
    rb"\s*(?:(?:https?:)?(?:[/\\]{2}|/\\)"
    + re.escape(HOSTILE_HOST.encode())
    + rb"|javascript:x_fuzz)"
)
HOSTILE_LINK = re.compile(
    rb"(?:\b(?:href|src|action|formaction)\s*=\s*[\"']?" + _HOSTILE_TARGET + rb")"
    rb"|(?:\bcontent\s*=\s*[\"']?\s*\d*\s*;\s*url\s*=\s*[\"']?" + _HOSTILE_TARGET + rb")",
    re.IGNORECASE,
)
BROWSER_DROPPED = re.compile(r"[\t\n\r]")


class ProviderDefect(AssertionError):
    """An answer the provider must never give."""


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    request: str  # what was sent (and the traceback of a server error), for messages

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Browser:
    """Cookies kept between calls, as a browser would."""

    cookies: dict[str, str] = field(default_factory=dict)

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def keep(self, reply: Reply) -> None:
        for name, value in reply.headers:
            if name.lower() != "set-cookie":
                continue
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value)
            except CookieError:
                continue
            for key, morsel in jar.items():
                if morsel.value and morsel["max-age"] not in ("0", 0):
                    self.cookies[key] = morsel.value
                else:
                    self.cookies.pop(key, None)


def native(value: str | bytes) -> str:
    """A WSGI native string (PEP 3333: bytes as latin-1); text beyond latin-1 arrives as
    its UTF-8 bytes, as a server would pass them."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("latin-1")
    return value


SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def local_path(location: str) -> bool:
    """A reference a browser resolves on this origin: no scheme, no authority (``//``,
    ``\\\\``, ``/\\``), once the tabs and line breaks it drops and the leading spaces and
    controls it trims are removed (``/<TAB>/evil`` is ``//evil``, RFC 3986 4.2 and the
    WHATWG URL parser)."""
    seen = BROWSER_DROPPED.sub("", location).lstrip("".join(map(chr, range(0x21))))
    return not SCHEME.match(seen) and not re.match(r"[/\\]{2}", seen)


def same_endpoint(url: str, allowed: Iterable[str]) -> bool:
    """``url`` has the scheme, host, port and path of one of ``allowed``."""
    try:
        parts = urlsplit(BROWSER_DROPPED.sub("", url))
    except ValueError:
        return False
    for candidate in allowed:
        registered = urlsplit(candidate)
        if (parts.scheme, parts.netloc, parts.path) == (
            registered.scheme,
            registered.netloc,
            registered.path,
        ):
            return True
    return False


class Provider:
    """The provider's production WSGI application, each answer checked (module docstring)."""

    def __init__(self, *, redirect_uris: Iterable[str] = ()) -> None:
        from ciam.wsgi import application

        self.application = application
        issuer = urlsplit(settings.CIAM_ISSUER)
        self.issuer = settings.CIAM_ISSUER
        self.host = issuer.netloc
        self.port = str(issuer.port or (443 if issuer.scheme == "https" else 80))
        self.scheme = issuer.scheme
        self.redirect_uris = set(redirect_uris)
        self.count = 0
        # (path's first segment, status) -> answers: what the inputs reached
        self.outcomes: Counter[tuple[str, int]] = Counter()

    def allow_redirects_to(self, *uris: str) -> None:
        self.redirect_uris.update(uri for uri in uris if uri)

    # --- sending -----------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str | bytes,
        *,
        query: str | bytes = b"",
        headers: dict[str, str | bytes] | None = None,
        body: bytes = b"",
        content_type: str | bytes | None = None,
        browser: Browser | None = None,
        host: str | bytes | None = None,
        check: bool = True,
    ) -> Reply:
        """One request: ``path`` as a server passes it (already percent-decoded), ``query``
        raw. Raises ``ProviderDefect`` when ``check`` and the answer breaks a rule."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": native(path),
            "SCRIPT_NAME": "",
            "QUERY_STRING": native(query),
            "SERVER_NAME": "localhost",
            "SERVER_PORT": self.port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": native(self.host if host is None else host),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if body or method in ("POST", "PUT", "PATCH"):
            environ["CONTENT_LENGTH"] = str(len(body))
        if content_type is not None:
            environ["CONTENT_TYPE"] = native(content_type)
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = native(value)
            else:
                environ["HTTP_" + key] = native(value)
        if browser is not None and browser.cookies and "HTTP_COOKIE" not in environ:
            environ["HTTP_COOKIE"] = browser.header()
        described = f"{method} {native(path)!r} query={native(query)[:300]!r}"
        if content_type is not None:
            described += f" content_type={native(content_type)[:100]!r}"
        if body:
            described += f" body={body[:300]!r}"
        if headers:
            described += f" headers={ {k: native(v)[:120] for k, v in headers.items()} }"
        if host is not None:
            described += f" host={native(host)[:80]!r}"
        reply = self._call(environ, described)
        self.count += 1
        self.outcomes["/".join(native(path).split("/")[:2]), reply.status] += 1
        if browser is not None:
            browser.keep(reply)
        if check:
            self.check(reply)
        return reply

    def _call(self, environ: dict[str, Any], described: str) -> Reply:
        captured: dict[str, Any] = {}
        failures: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None) -> None:
            captured["status"], captured["headers"] = status, headers

        def on_exception(**kwargs: Any) -> None:
            failures.append("".join(traceback.format_exception(*sys.exc_info())))

        # As Django's test client does: the test's connection outlives each request.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        got_request_exception.connect(on_exception)
        try:
            try:
                result = self.application(environ, start_response)
                try:
                    body = b"".join(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            except Exception:
                return Reply(599, [], b"", described + "\n" + traceback.format_exc())
        finally:
            got_request_exception.disconnect(on_exception)
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        status = int(captured["status"].split()[0])
        detail = described + ("\n" + failures[-1] if failures else "")
        return Reply(status, captured["headers"], body, detail)

    def follow(self, reply: Reply, browser: Browser | None, hops: int = 3) -> Reply:
        """Follow redirects to paths of the provider, as a browser would (each checked)."""
        while hops and reply.status in (301, 302, 303, 307, 308):
            location = reply.header("Location") or ""
            if location.startswith(self.issuer + "/"):
                location = location[len(self.issuer) :]
            if not (location.startswith("/") and local_path(location)):
                break
            path, _, query = location.partition("?")
            reply = self.send(
                "GET", unquote_to_bytes(path.partition("#")[0]), query=query, browser=browser
            )
            hops -= 1
        return reply

    # --- checking ----------------------------------------------------------------------

    def check(self, reply: Reply) -> None:
        if reply.status >= 500:
            raise ProviderDefect(f"{reply.status} for {reply.request}\n{reply.text[:500]}")
        location = reply.header("Location")
        if location is not None and not self.redirect_allowed(location):
            raise ProviderDefect(f"redirect to {location!r} for {reply.request}")
        if reply.content_type == "text/html":
            if b"x-fuzz-" in reply.body:  # a marker shown (escaped): the check had work
                self.outcomes["reflected, escaped", 0] += 1
            for pattern in (REFLECTED_TAG, REFLECTED_ATTRIBUTE, HOSTILE_LINK):
                match = pattern.search(reply.body)
                if match:
                    start = max(0, match.start() - 200)
                    raise ProviderDefect(
                        f"unescaped reflection {match.group(0)!r} for {reply.request}\n"
                        f"...{reply.body[start : match.end() + 200]!r}"
                    )

    def redirect_allowed(self, location: str) -> bool:
        if local_path(location):
            return True
        seen = BROWSER_DROPPED.sub("", location)
        if seen == self.issuer or seen.startswith(self.issuer + "/"):
            return True
        return same_endpoint(location, self.redirect_uris)
