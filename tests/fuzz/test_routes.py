"""Fuzzing every route of the URL conf and the request envelope.

Every URL pattern (hosted pages, the portal, the protocol endpoints, the APIs, the admin),
with its path parameters filled with hostile text, any method, hostile query parameters,
anonymous or signed in; and requests whose envelope is broken: Host headers that are not
allowed or not valid, non-ASCII and oversized headers, garbage cookies (session, CSRF,
language), forged forwarding headers, conditional requests on the metadata that
ciam/fastpath.py answers from bytes. No answer may be a 5xx, redirect elsewhere, or show an
input unescaped. Each test is bounded by its number of examples and takes well under a
minute on one core.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import given
from hypothesis import strategies as st

from .conftest import FORM, World, budget
from .harness import Browser
from .strategies import header_value, hostile, marker

pytestmark = pytest.mark.long

# Paths that end the signed-in browser's session: posted anonymously only.
SIGN_OUT = re.compile(
    r"^/(accounts/logout|logout|account/sessions/.*sign-out|account/privacy/delete)"
)
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")
QUERY_NAMES = (
    "next",
    "client",
    "client_id",
    "email",
    "code",
    "token",
    "state",
    "error",
    "redirect_uri",
    "post_logout_redirect_uri",
    "q",
    "page",
    "o",
    "p",
    "limit",
    "cursor",
    "stream_id",
    "key",
    "login_hint",
    "process",
    "action",
)


def _patterns(resolver: URLResolver, prefix: str = "") -> list[str]:
    found: list[str] = []
    for entry in resolver.url_patterns:
        pattern = str(entry.pattern).lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            found += _patterns(entry, prefix + pattern)
        elif isinstance(entry, URLPattern):
            found.append(prefix + pattern)
    return found


def routes() -> list[str]:
    """Every path pattern, ``{name}`` where a parameter goes (regular expressions reduced
    to their named groups; a catch-all becomes a parameter of its own)."""
    templates = set()
    for pattern in _patterns(get_resolver()):
        template = PARAMETER.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", pattern)
        template = template.replace(".*", "{rest}").replace("\\", "")
        templates.add("/" + template)
    return sorted(templates)


def route_requests(world: World):
    every = routes()
    admin = [template for template in every if template.startswith("/admin/")]
    # The admin has most of the patterns, one handler and little input: a share of its own.
    templates = st.one_of(
        *[st.sampled_from([t for t in every if t not in admin])] * 6, st.sampled_from(admin)
    )
    parameter = st.one_of(
        hostile(),
        st.sampled_from(["1", "0", "-1", "x", "..", "%2F", "a/b", "99999999999999999999"]),
    )
    query = st.lists(
        st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), marker()), hostile()), max_size=3
    )

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[str, str]], str, bool]:
        template = draw(templates)
        path = template
        for name in re.findall(r"\{(\w+)\}", template):
            path = path.replace("{" + name + "}", draw(parameter), 1)
        method = draw(
            st.sampled_from(
                ["GET", "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]
            )
        )
        signed_in = draw(st.booleans()) and not (method != "GET" and SIGN_OUT.match(template))
        return method, path.encode("utf-8", "surrogatepass"), draw(query), template, signed_in

    return build()


@budget
@given(data=st.data())
def test_every_route(world: World, requests_made, data):
    """Each URL pattern with hostile path parameters and query, by any method, with a valid
    CSRF token on unsafe methods, anonymous or signed in."""
    method, path, query, _template, signed_in = data.draw(
        world.strategy("routes", lambda: route_requests(world))
    )
    browser = world.signed_in if signed_in else world.anonymous
    headers = {}
    body = b""
    if method not in ("GET", "HEAD", "OPTIONS"):
        body = urlencode([("csrfmiddlewaretoken", world.csrf_token(browser)), *query]).encode()
        headers["Referer"] = world.provider.issuer + "/"
    reply = world.provider.send(
        method,
        path,
        query=urlencode(query).encode(),
        body=body,
        content_type=FORM if body else None,
        headers=headers,
        browser=browser,
    )
    if data.draw(st.integers(0, 4)) == 0:
        world.provider.follow(reply, browser, hops=2)


HOSTS = st.one_of(
    st.sampled_from(
        [
            "evil.example",
            "localhost:1",
            "localhost:99999",
            "localhost:x",
            "[::1",
            "[::1]:80",
            "localhost.",
            "LOCALHOST",
            "localhost@evil.example",
            "localhost/evil",
            "",
            " ",
            "localhost:8000:1",
            "127.0.0.1",
            "xn--.example",
            "b\u00fccher.example",
            "a" * 300,
            "localhost\u00ff",
        ]
    ),
    header_value(),
)
ENVELOPE_PATHS = (
    "/",
    "/authorize",
    "/token",
    "/userinfo",
    "/introspect",
    "/revoke",
    "/logout",
    "/.well-known/openid-configuration",
    "/jwks",
    "/accounts/login/",
    "/account/security/",
    "/api/consent/users/x",
    "/ssf/streams",
    "/healthz",
    "/readyz",
    "/metrics",
    "/brand.css",
    "/favicon.ico",
    "/static/css/ciam.css",
    "/i18n/setlang/",
    "/admin/",
    "/nope",
)
HEADER_NAMES = (
    "Accept",
    "Accept-Language",
    "Accept-Encoding",
    "User-Agent",
    "Referer",
    "Origin",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Real-IP",
    "X-Request-ID",
    "If-None-Match",
    "If-Modified-Since",
    "Range",
    "Authorization",
    "Cookie",
    "Sec-Fetch-Site",
    "DPoP",
    "X-CSRFToken",
    "Forwarded",
    "Content-Length",
    "Transfer-Encoding",
)
COOKIE_NAMES = (
    "ciam_session",
    "ciam_csrf",
    "ciam_language",
    "messages",
    "sessionid",
    "csrftoken",
    "mfa_trusted",
    "ciam_device",
)


@budget
@given(
    path=st.sampled_from(ENVELOPE_PATHS),
    method=st.sampled_from(["GET", "GET", "HEAD", "POST", "OPTIONS"]),
    host=st.one_of(st.none(), st.none(), HOSTS),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), header_value(), max_size=4),
    cookies=st.dictionaries(
        st.one_of(st.sampled_from(COOKIE_NAMES), marker()),
        st.one_of(hostile().map(lambda value: quote(value, safe="")), header_value()),
        max_size=3,
    ),
    query=st.one_of(st.just(b""), hostile().map(lambda value: value.encode("utf-8"))),
    signed_in=st.booleans(),
)
def test_request_envelope(
    world: World, requests_made, path, method, host, headers, cookies, query, signed_in
):
    """Bad or unknown Host headers (400, never a redirect to them), non-ASCII and
    control-free binary header values, garbage session, CSRF and language cookies, forged
    forwarding headers and conditional requests, on pages, the back channel and the
    metadata the router serves from bytes."""
    # A copy of the signed-in browser's cookies: what this request sets stays with it.
    browser = Browser(dict(world.signed_in.cookies) if signed_in else {})
    if cookies:
        sent = {**browser.cookies, **cookies}
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in sent.items())
    headers.pop("Content-Length", None)
    world.provider.send(method, path, query=query, headers=headers, host=host, browser=browser)
