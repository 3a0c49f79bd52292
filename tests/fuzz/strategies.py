"""Hypothesis strategies for hostile HTTP input.

Values mix what an endpoint expects with what it must survive: reflection markers (tags,
attribute break-outs, script and link payloads naming ``HOSTILE_HOST``), NUL and control
characters, Unicode oddities (combining marks, line separators, fullwidth forms, RTL
overrides), huge values, deep JSON, and raw bytes that are not UTF-8 or not valid
percent-escapes. Queries and form bodies are built as raw bytes, so the encoding itself can
be broken (``%``, ``%zz``, ``%c3%28``, bare ``\\xff``) and parameters repeated.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, quote_plus

from hypothesis import strategies as st

from .harness import HOSTILE_HOST

MARKER_TEMPLATES = (
    "<x-fuzz-{n}>",
    "\"'><x-fuzz-{n}>",
    '" data-x-fuzz-{n}="1',
    "' data-x-fuzz-{n}='1",
    "</textarea></title></script><x-fuzz-{n}>",
    "javascript:x_fuzz({n})",
    "https://" + HOSTILE_HOST + "/{n}",
    "//" + HOSTILE_HOST + "/{n}",
    "/\\" + HOSTILE_HOST + "/{n}",
    "https://" + HOSTILE_HOST + "%2F{n}@rp.example.test/callback",
)

ODD_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\n\r",
    "\x7f\x1b[31m",
    "\u2028\u2029",
    "\u202eevil",
    "\ufeff",
    "\ufffd",
    "e\u0301\u0300\u0302",
    "\uff41\uff44\uff4d\uff49\uff4e",  # fullwidth "admin"
    "\U0001f600" * 3,
    "\u0130\u0131 \u017f \u00df \ufb01",  # dotted and dotless i, long s, ligature
    "../../../etc/passwd",
    "%00",
    "%zz",
    "%",
    "%c3%28",
    "${7*7}{{7*7}}{% now %}",
    "'; DROP TABLE x; --",
    "null",
    "true",
    "-1",
    "0",
    "1e309",
    "99999999999999999999999999",
    "NaN",
    "[]",
    "{}",
)

HOSTILE_EMAIL_DOMAINS = (
    "\u00ad.com",  # a soft hyphen: IDNA maps it to nothing, an empty label
    "\u2028.com",
    "\ufffd.com",
    "a..com",
    "-a.com",
    "a-.com",
    "xn--.com",
    "xn--zz-.com",
    "x" * 64 + ".com",
    ("a" * 63 + ".") * 4 + "com",
    "\u0300.com",
    "bücher.example",
    "\uff45xample.com",  # fullwidth e
    "example.com.",
    "example\u3002com",
    "[127.0.0.1]",
    "[IPv6:::1]",
    "localhost",
    "ex ample.com",
    "exa\x00mple.com",
    "\u0645\u062b\u0627\u0644.\u0625\u062e\u062a\u0628\u0627\u0631",
)


@st.composite
def marker(draw: st.DrawFn) -> str:
    """A reflection marker: nothing of it may reach an HTML page unescaped."""
    template = draw(st.sampled_from(MARKER_TEMPLATES))
    return template.format(n=draw(st.integers(0, 999_999)))


def huge(min_size: int = 1_000, max_size: int = 20_000) -> st.SearchStrategy[str]:
    return st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(["a", "%", "é", "<", "\x00", "[", "{", "+", " "]),
        st.integers(min_size, max_size),
    )


def text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text a client could send (no lone surrogates: they cannot be encoded)."""
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


def hostile() -> st.SearchStrategy[str]:
    """A hostile value of any kind (one shared strategy: building them is not free)."""
    return _HOSTILE


def _hostile() -> st.SearchStrategy[str]:
    return st.one_of(
        marker(),
        st.sampled_from(ODD_TEXT),
        text(),
        st.builds(lambda a, m, b: a + m + b, text(8), marker(), text(8)),
        huge(),
    )


_HOSTILE = _hostile()


def hostile_email() -> st.SearchStrategy[str]:
    local = st.one_of(
        st.sampled_from(["user", "a.b+tag", "ÄÖÜ", "\u00ad", '"quoted local"', "a" * 70, ""]),
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12),
        marker(),
    )
    domain = st.one_of(
        st.sampled_from(HOSTILE_EMAIL_DOMAINS),
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12).map(
            lambda label: label + ".com"
        ),
    )
    return st.one_of(
        st.builds(lambda a, b: f"{a}@{b}", local, domain),
        st.builds(lambda a, b: f"{a}@{b}@{b}", local, domain),
        hostile(),
    )


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, nested a little (one shared strategy)."""
    return _JSON_VALUES


def _json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile(),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(
                st.one_of(text(12), marker(), st.sampled_from(ODD_TEXT)), children, max_size=4
            ),
        ),
        max_leaves=max_leaves,
    )


_JSON_VALUES = _json_values()


def deep_json() -> st.SearchStrategy[str]:
    """JSON nested far deeper than any parser's recursion limit (or just below it), closed
    or left open."""
    return st.builds(
        lambda pair, depth, inner, closed: (
            pair[0] * depth + inner + (pair[1] * depth if closed else "")
        ),
        st.sampled_from(
            [("[", "]"), ('{"a":', "}"), ('{"userinfo":', "}"), ('{"id_token":{"acr":', "}}")]
        ),
        st.integers(100, 20_000),
        st.sampled_from(["1", "{}", "[]", "null"]),
        st.booleans(),
    )


def json_text() -> st.SearchStrategy[str]:
    """A JSON document, valid or not, of any shape."""
    return st.one_of(
        json_values().map(lambda v: json.dumps(v, ensure_ascii=False)),
        json_values().map(json.dumps),
        deep_json(),
        hostile(),
    )


# --- encodings ----------------------------------------------------------------------------

ENCODINGS = ("plus", "percent", "raw", "broken", "latin-1")
BROKEN_ESCAPES = (b"%", b"%z", b"%zz", b"%c3%28", b"%ff%fe", b"\xff", b"\xc3", b"%00", b"%e2%82")


def _encode(value: str | bytes, how: str, spoil: bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    if how == "plus":
        return quote_plus(value).encode()
    if how == "percent":
        return quote(value, safe="").encode()
    if how == "raw":
        return value.replace("&", "%26").replace("=", "%3D").encode("utf-8")
    if how == "latin-1":
        return value.encode("latin-1", "replace").replace(b"&", b"%26")
    return quote_plus(value).encode() + spoil


def encode_pairs(pairs: list[tuple[str, str | bytes]], how: str, spoil: bytes = b"%") -> bytes:
    """``pairs`` as a query string or form body, encoded ``how`` (ENCODINGS); "broken"
    appends ``spoil`` (a bad escape or byte) to every value."""
    return b"&".join(
        _encode(key, "plus" if how == "broken" else how, b"") + b"=" + _encode(value, how, spoil)
        for key, value in pairs
    )


@st.composite
def encoded(draw: st.DrawFn, pairs: list[tuple[str, str | bytes]]) -> bytes:
    how = draw(st.sampled_from(ENCODINGS))
    spoil = draw(st.sampled_from(BROKEN_ESCAPES))
    body = encode_pairs(pairs, how, spoil)
    extra = draw(st.sampled_from([b"", b"", b"", b"&", b"&&=&", b"&=x", b"&k", b";a=b"]))
    return body + extra


FORM_CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/x-www-form-urlencoded; charset=utf-7",
    "application/x-www-form-urlencoded; charset=x-unknown",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=cp1252",
    "application/x-www-form-urlencoded; charset=idna",
    "application/x-www-form-urlencoded; charset=rot13",
    "application/x-www-form-urlencoded; charset=base64",
    "application/x-www-form-urlencoded; charset=",
    'application/x-www-form-urlencoded; charset="utf-8',
    "application/x-www-form-urlencoded; charset=utf-8; charset=utf-16",
    "application/x-www-form-urlencoded;;;",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "multipart/form-data; boundary=",
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "text/html; charset=utf-8",
    "",
    ";",
    "application/x-www-form-urlencoded\u00e9",
)


def form_content_type() -> st.SearchStrategy[str]:
    return st.sampled_from(FORM_CONTENT_TYPES)


def header_value() -> st.SearchStrategy[str]:
    """What an HTTP server passes on: any byte but the control characters it refuses,
    as latin-1 (PEP 3333), so UTF-8 arrives as mojibake and raw bytes as themselves."""
    printable = st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        max_size=60,
    )
    utf8 = text(30).map(
        lambda t: "".join(ch for ch in t.encode("utf-8").decode("latin-1") if ch >= " ")
    )
    return st.one_of(
        printable, utf8, marker(), st.sampled_from(["", " ", "\t", "x" * 9000, "\u00ff\u00fe"])
    )


def basic_credentials(client_id: str, secret: str) -> st.SearchStrategy[str]:
    """Authorization headers: right, wrong and malformed Basic (bad base64, no colon,
    non-UTF-8, empty, percent-encoded), Bearer and other schemes."""

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    raw_parts = st.one_of(
        st.just(f"{client_id}:{secret}".encode()),
        st.just(f"{client_id}:wrong".encode()),
        st.just(client_id.encode()),
        st.just(b":"),
        st.just(b""),
        st.just(b"\xff\xfe:\xff"),
        st.just(f"{quote(client_id)}:{quote(secret)}".encode()),
        st.just(f"{client_id}%zz:{secret}".encode()),
        st.just(f"{client_id}\x00:{secret}".encode()),
        st.binary(max_size=40),
        hostile().map(lambda t: t.encode("utf-8")[:2000] + b":" + secret.encode()),
    )
    return st.one_of(
        raw_parts.map(lambda raw: "Basic " + b64(raw)),
        raw_parts.map(lambda raw: "basic " + b64(raw)),
        raw_parts.map(lambda raw: "Basic " + b64(raw).rstrip("=")),
        raw_parts.map(lambda raw: "Basic  " + b64(raw) + " extra"),
        st.sampled_from(["Basic", "Basic ", "Basic !!!", "Basic ====", "Basic a", "Basic \u00ff"]),
        header_value().map(lambda v: "Basic " + v),
        header_value().map(lambda v: "Bearer " + v),
        header_value(),
    )
