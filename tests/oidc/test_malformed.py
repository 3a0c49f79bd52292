"""Malformed input on every endpoint: missing, duplicated, oversized and mis-encoded values,
wrong content types and methods, broken client authentication and bearer tokens.

Whatever arrives, the provider answers with a 4xx and the error code the specs name, never a
500, and never redirects the browser to an address the client did not register:

- authorization endpoint: an error page when the client or redirect_uri cannot be trusted,
  otherwise a redirect to the registered redirect_uri with error, state and iss
  (RFC 6749 4.1.2.1, RFC 9207, OIDC Core 3.1.2.6);
- token, revocation and introspection endpoints: JSON errors (RFC 6749 5.2, RFC 7009 2.2.1,
  RFC 7662 2.3), 401 invalid_client with WWW-Authenticate for failed client authentication;
- UserInfo: 401 with a Bearer challenge for a missing or bad access token (RFC 6750 3.1).
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests

from tests.conftest import Browser, Client, query_of
from tests.factories import make_client

TIMEOUT = 10
STATE = "st-Malformed-1"
EVIL = "https://evil.example/cb"


# --- HTTP helpers -------------------------------------------------------------------------


def call(method: str, url: str, **kwargs) -> requests.Response:
    """One request, redirects never followed (the relying party does not exist)."""
    kwargs.setdefault("timeout", TIMEOUT)
    return requests.request(method, url, allow_redirects=False, **kwargs)


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body)


def raw_request(
    issuer: str,
    method: str,
    target: bytes,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> RawResponse:
    """Send bytes exactly as given (HTTP clients re-encode bad escapes and raw bytes)."""
    parts = urlsplit(issuer)
    lines = [
        method.encode() + b" " + target + b" HTTP/1.1",
        b"Host: " + parts.netloc.encode(),
        b"Connection: close",
        b"Content-Length: " + str(len(body)).encode(),
    ]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", parts.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    response_headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        response_headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), response_headers, payload)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def basic(client_id: str | bytes, secret: str | bytes = b"") -> str:
    raw = client_id if isinstance(client_id, bytes) else client_id.encode()
    raw += b":" + (secret if isinstance(secret, bytes) else secret.encode())
    return "Basic " + base64.b64encode(raw).decode()


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- assertions ---------------------------------------------------------------------------


def assert_not_server_error(response) -> None:
    body = response.text if hasattr(response, "text") else response.body.decode("latin-1")
    assert response.status_code < 500, (response.status_code, body[:500])


def location_of(response) -> str | None:
    if isinstance(response, RawResponse):
        return response.headers.get("location")
    return response.headers.get("Location")


def assert_error_page(response) -> None:
    """A page shown to the user: 4xx and no redirect anywhere (RFC 6749 4.1.2.1)."""
    assert_not_server_error(response)
    assert 400 <= response.status_code < 500, (response.status_code, location_of(response))
    assert location_of(response) is None, location_of(response)


def assert_no_open_redirect(response, *allowed_prefixes: str) -> None:
    """Any redirect stays on the provider or goes to one of ``allowed_prefixes``."""
    assert_not_server_error(response)
    location = location_of(response)
    if location is None:
        return
    local = location.startswith("/") and not location.startswith("//")
    assert local or any(location.startswith(prefix) for prefix in allowed_prefixes), location


def assert_error_redirect(
    response, *, redirect_uri: str, issuer: str, errors: set[str], state: str | None = STATE
) -> dict[str, str]:
    """A redirect to the registered redirect_uri carrying error, state and iss."""
    assert_not_server_error(response)
    location = location_of(response)
    assert response.status_code in (302, 303), (response.status_code, location)
    assert location is not None
    assert location.startswith(redirect_uri + "?"), location
    params = query_of(location)
    assert params.get("error") in errors, params
    assert params.get("iss") == issuer, params
    if state is not None:
        assert params.get("state") == state, params
    assert "code" not in params, params
    return params


def assert_json_error(response, status: int, errors: set[str]) -> dict:
    assert_not_server_error(response)
    body = response.text if hasattr(response, "text") else response.body.decode()
    assert response.status_code == status, (response.status_code, body[:300])
    content_type = (
        response.headers.get("Content-Type")
        if not isinstance(response, RawResponse)
        else response.headers.get("content-type")
    )
    assert (content_type or "").startswith("application/json"), content_type
    data = response.json()
    assert data.get("error") in errors, data
    return data


def assert_invalid_client(response) -> None:
    """RFC 6749 5.2: failed client authentication is 401 invalid_client with a challenge."""
    assert_json_error(response, 401, {"invalid_client"})
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("basic"), challenge


# --- fixtures -----------------------------------------------------------------------------


@dataclass
class Clients:
    web: Client
    other: Client
    spa: Client
    service_id: str
    service_secret: str


@pytest.fixture
def clients(web_client, third_party_client, spa_client) -> Clients:
    service = make_client("service", name="Malformed service")
    return Clients(
        web_client, third_party_client, spa_client, service.client_id, service.client_secret
    )


def base_params(client: Client) -> list[tuple[str, str]]:
    return [
        ("response_type", "code"),
        ("client_id", client.client_id),
        ("redirect_uri", client.redirect_uri),
        ("scope", "openid"),
        ("state", STATE),
    ]


def authorize(issuer: str, method: str, params: list[tuple[str, str]]) -> requests.Response:
    """Send the request; a POST that the provider continues as a GET is followed once."""
    if method == "GET":
        return call("GET", issuer + "/authorize?" + urlencode(params))
    response = call("POST", issuer + "/authorize", data=params)
    location = response.headers.get("Location", "")
    if response.status_code == 303 and location.startswith("/authorize?"):
        response = call("GET", issuer + location)
    return response


Builder = Callable[[list[tuple[str, str]], Clients], list[tuple[str, str]]]


def without(name: str) -> Builder:
    return lambda params, _clients: [(k, v) for k, v in params if k != name]


def replace(name: str, value: str | Callable[[Clients], str]) -> Builder:
    def build(params, clients):
        resolved = value(clients) if callable(value) else value
        return [(k, v) for k, v in params if k != name] + [(name, resolved)]

    return build


def add(*pairs: tuple[str, str | Callable[[Clients], str]]) -> Builder:
    def build(params, clients):
        return params + [(k, v(clients) if callable(v) else v) for k, v in pairs]

    return build


def twice(name: str) -> Builder:
    """The parameter repeated with its own value (RFC 6749 3.1: at most once)."""
    return lambda params, _clients: params + [(k, v) for k, v in params if k == name]


# --- authorization endpoint: untrusted client or redirect_uri -----------------------------

REGISTERED = "https://rp.example.test/callback"

UNTRUSTED: list = [
    pytest.param(lambda p, c: [], id="no-parameters"),
    pytest.param(without("client_id"), id="client_id-missing"),
    pytest.param(replace("client_id", ""), id="client_id-empty"),
    pytest.param(replace("client_id", "no-such-client"), id="client_id-unknown"),
    pytest.param(replace("client_id", lambda c: c.web.client_id + "\x00"), id="client_id-nul"),
    pytest.param(replace("client_id", "\x00"), id="client_id-only-nul"),
    pytest.param(replace("client_id", "x" * 10_000), id="client_id-10kb"),
    pytest.param(twice("client_id"), id="client_id-twice"),
    pytest.param(add(("client_id", lambda c: c.other.client_id)), id="client_id-two-clients"),
    pytest.param(twice("redirect_uri"), id="redirect_uri-twice"),
    pytest.param(add(("redirect_uri", EVIL)), id="redirect_uri-registered-and-evil"),
    pytest.param(replace("redirect_uri", EVIL), id="redirect_uri-unregistered"),
    pytest.param(replace("redirect_uri", "//evil.example/cb"), id="redirect_uri-scheme-relative"),
    pytest.param(replace("redirect_uri", "/callback"), id="redirect_uri-relative"),
    pytest.param(replace("redirect_uri", "javascript:alert(1)"), id="redirect_uri-javascript"),
    pytest.param(
        replace("redirect_uri", "https://rp.example.test@evil.example/callback"),
        id="redirect_uri-userinfo",
    ),
    pytest.param(replace("redirect_uri", REGISTERED + "/"), id="redirect_uri-trailing-slash"),
    pytest.param(replace("redirect_uri", REGISTERED + "?x=1"), id="redirect_uri-extra-query"),
    pytest.param(replace("redirect_uri", REGISTERED + "#f"), id="redirect_uri-fragment"),
    pytest.param(replace("redirect_uri", REGISTERED + "/../evil"), id="redirect_uri-dot-segments"),
    pytest.param(
        replace("redirect_uri", "http://rp.example.test/callback"), id="redirect_uri-http"
    ),
    pytest.param(replace("redirect_uri", REGISTERED + "\x00"), id="redirect_uri-nul"),
    pytest.param(replace("redirect_uri", REGISTERED + "?" + "a" * 10_000), id="redirect_uri-10kb"),
    pytest.param(
        replace("redirect_uri", lambda c: c.other.redirect_uri.replace("rp.", "other.")),
        id="redirect_uri-of-nobody",
    ),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("build", UNTRUSTED)
def test_authorize_untrusted_client_or_redirect_uri_shows_error_page(
    issuer, clients, method, build
):
    """Unknown, missing or duplicated client_id and unregistered, malformed or duplicated
    redirect_uri: an error page, never a redirect (RFC 6749 4.1.2.1, RFC 9700 4.1)."""
    response = authorize(issuer, method, build(base_params(clients.web), clients))
    assert_error_page(response)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost:5173/callback/",
        "http://localhost:5174/callback",
        "http://127.0.0.1:5173/callback",
        EVIL,
    ],
)
def test_authorize_public_client_unregistered_redirect_uri_shows_error_page(
    issuer, clients, redirect_uri
):
    """A public client's redirect_uri is matched exactly too (RFC 9700 4.1.3)."""
    params = [*base_params(clients.spa), ("code_challenge", "E" * 43)]
    params = replace("redirect_uri", redirect_uri)(params, clients)
    response = authorize(issuer, "GET", [*params, ("code_challenge_method", "S256")])
    assert_error_page(response)


RAW_UNTRUSTED_QUERIES = [
    pytest.param(b"client_id=%zz", id="client_id-bad-escape"),
    pytest.param(b"client_id=%c3%28", id="client_id-invalid-utf8-escape"),
    pytest.param(b"client_id=\xff\xfe", id="client_id-raw-invalid-utf8"),
    pytest.param(b"client_id={cid}%00", id="client_id-nul-escape"),
    pytest.param(b"client_id={cid}%zz", id="client_id-trailing-bad-escape"),
    pytest.param(b"client_id={cid}&redirect_uri={ruri}%zz", id="redirect_uri-bad-escape"),
    pytest.param(b"client_id={cid}&redirect_uri={ruri}%c3%28", id="redirect_uri-invalid-utf8"),
    pytest.param(b"client_id={cid}&redirect_uri={ruri}\xff", id="redirect_uri-raw-byte"),
    pytest.param(b"client_id={cid}&redirect_uri=%", id="redirect_uri-lone-percent"),
    pytest.param(b"client_id={cid}&redirect_uri", id="redirect_uri-no-equals"),
    pytest.param(b"client_id={cid}&&&==&redirect_uri=%%%", id="separators-only"),
]


def _raw_query(template: bytes, client: Client) -> bytes:
    query = template.replace(b"{cid}", quote(client.client_id).encode())
    query = query.replace(b"{ruri}", quote(client.redirect_uri, safe="").encode())
    return b"response_type=code&scope=openid&state=" + STATE.encode() + b"&" + query


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("template", RAW_UNTRUSTED_QUERIES)
def test_authorize_badly_encoded_client_or_redirect_uri_shows_error_page(
    issuer, clients, method, template
):
    """Invalid percent-escapes, invalid UTF-8 and raw bytes in client_id or redirect_uri
    make them untrustworthy: an error page, no redirect, no 500."""
    query = _raw_query(template, clients.web)
    if method == "GET":
        response = raw_request(issuer, "GET", b"/authorize?" + query)
    else:
        response = raw_request(issuer, "POST", b"/authorize", headers=FORM, body=query)
    assert_error_page(response)


# --- authorization endpoint: errors returned to the registered redirect_uri ----------------

ANY_RESPONSE_TYPE_ERROR = {"invalid_request", "unsupported_response_type"}

TRUSTED: list = [
    pytest.param(without("response_type"), ANY_RESPONSE_TYPE_ERROR, id="response_type-missing"),
    pytest.param(replace("response_type", ""), ANY_RESPONSE_TYPE_ERROR, id="response_type-empty"),
    pytest.param(
        replace("response_type", "token"), {"unsupported_response_type"}, id="response_type-token"
    ),
    pytest.param(
        replace("response_type", "id_token"),
        {"unsupported_response_type"},
        id="response_type-id_token",
    ),
    pytest.param(
        replace("response_type", "code id_token"),
        {"unsupported_response_type"},
        id="response_type-hybrid",
    ),
    pytest.param(
        replace("response_type", "bogus"), {"unsupported_response_type"}, id="response_type-bogus"
    ),
    pytest.param(
        replace("response_type", "code\x00"),
        {"unsupported_response_type", "invalid_request"},
        id="response_type-nul",
    ),
    pytest.param(twice("response_type"), {"invalid_request"}, id="response_type-twice"),
    pytest.param(replace("scope", "openid bogus"), {"invalid_scope"}, id="scope-unknown"),
    pytest.param(replace("scope", "bogus"), {"invalid_scope"}, id="scope-only-unknown"),
    pytest.param(replace("scope", "openid \x00"), {"invalid_scope"}, id="scope-nul"),
    pytest.param(replace("scope", "openid " + "s" * 3000), {"invalid_scope"}, id="scope-3kb"),
    pytest.param(twice("scope"), {"invalid_request"}, id="scope-twice"),
    pytest.param(add(("state", "other")), {"invalid_request"}, id="state-twice"),
    pytest.param(add(("nonce", "n1"), ("nonce", "n2")), {"invalid_request"}, id="nonce-twice"),
    pytest.param(
        add(("prompt", "login"), ("prompt", "none")), {"invalid_request"}, id="prompt-twice"
    ),
    pytest.param(add(("max_age", "5"), ("max_age", "6")), {"invalid_request"}, id="max_age-twice"),
    pytest.param(
        add(
            ("code_challenge", "E" * 43),
            ("code_challenge_method", "S256"),
            ("code_challenge", "F" * 43),
        ),
        {"invalid_request"},
        id="code_challenge-twice",
    ),
    pytest.param(
        add(("claims", "{}"), ("claims", '{"userinfo": {"email": null}}')),
        {"invalid_request"},
        id="claims-twice",
    ),
    pytest.param(
        add(("code_challenge", "E" * 43), ("code_challenge_method", "plain")),
        {"invalid_request"},
        id="pkce-plain",
    ),
    pytest.param(add(("code_challenge", "E" * 43)), {"invalid_request"}, id="pkce-no-method"),
    pytest.param(
        add(("code_challenge", "E" * 43), ("code_challenge_method", "bogus")),
        {"invalid_request"},
        id="pkce-bogus-method",
    ),
    pytest.param(
        add(("code_challenge", "abc"), ("code_challenge_method", "S256")),
        {"invalid_request"},
        id="pkce-challenge-too-short",
    ),
    pytest.param(
        add(("code_challenge", "!" * 43), ("code_challenge_method", "S256")),
        {"invalid_request"},
        id="pkce-challenge-bad-characters",
    ),
    pytest.param(add(("response_mode", "fragment")), {"invalid_request"}, id="mode-fragment"),
    pytest.param(add(("response_mode", "form_post")), {"invalid_request"}, id="mode-form_post"),
    pytest.param(add(("response_mode", "bogus")), {"invalid_request"}, id="mode-bogus"),
    pytest.param(add(("max_age", "-1")), {"invalid_request"}, id="max_age-negative"),
    pytest.param(add(("max_age", "abc")), {"invalid_request"}, id="max_age-text"),
    pytest.param(add(("max_age", "1e3")), {"invalid_request"}, id="max_age-exponent"),
    pytest.param(add(("prompt", "none login")), {"invalid_request"}, id="prompt-none-and-login"),
    pytest.param(add(("prompt", "none")), {"login_required"}, id="prompt-none-no-session"),
    pytest.param(
        add(("prompt", "none"), ("id_token_hint", "not.a.jwt")),
        {"login_required", "invalid_request"},
        id="prompt-none-bad-hint",
    ),
    pytest.param(
        add(("request", "eyJhbGciOiJub25lIn0.e30.")),
        {"request_not_supported"},
        id="request-object",
    ),
    pytest.param(
        add(("request_uri", "https://rp.example.test/r")),
        {"request_uri_not_supported"},
        id="request_uri",
    ),
    pytest.param(add(("claims", "{")), {"invalid_request"}, id="claims-not-json"),
    pytest.param(add(("claims", "[1, 2]")), {"invalid_request"}, id="claims-json-list"),
    pytest.param(add(("claims", '"userinfo"')), {"invalid_request"}, id="claims-json-string"),
    pytest.param(
        add(("claims", '{"userinfo": [1]}')), {"invalid_request"}, id="claims-member-not-object"
    ),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("build", "errors"), TRUSTED)
def test_authorize_error_is_sent_to_registered_redirect_uri(issuer, clients, method, build, errors):
    """With a known client and its registered redirect_uri, every other problem goes back
    to that redirect_uri with error, the request's state and iss (RFC 6749 4.1.2.1,
    RFC 9207, OIDC Core 3.1.2.6); parameters may appear only once (RFC 6749 3.1)."""
    params = build(base_params(clients.web), clients)
    single_state = sum(1 for key, _ in params if key == "state") == 1
    response = authorize(issuer, method, params)
    assert_error_redirect(
        response,
        redirect_uri=clients.web.redirect_uri,
        issuer=issuer,
        errors=errors,
        state=STATE if single_state else None,
    )


ODD_BUT_LEGAL: list = [
    pytest.param(add(("max_age", "9" * 400)), id="max_age-400-digits"),
    pytest.param(add(("max_age", "0")), id="max_age-zero"),
    pytest.param(add(("display", "bogus")), id="display-unknown"),
    pytest.param(add(("display", "popup")), id="display-popup"),
    pytest.param(add(("ui_locales", 'xx-YY "<script> pt-BR')), id="ui_locales-junk"),
    pytest.param(add(("claims_locales", "\x00 zz")), id="claims_locales-junk"),
    pytest.param(add(("acr_values", "urn:x " * 200)), id="acr_values-many"),
    pytest.param(add(("login_hint", "h" * 4000)), id="login_hint-4kb"),
    pytest.param(add(("login_hint", "a\x00@example.com")), id="login_hint-nul"),
    pytest.param(add(("nonce", "n" * 4000)), id="nonce-4kb"),
    pytest.param(add(("unknown_parameter", "x"), ("another", "")), id="unknown-parameters"),
    pytest.param(replace("scope", "email openid"), id="scope-reordered"),
    pytest.param(replace("scope", "  openid   "), id="scope-extra-spaces"),
    pytest.param(replace("state", "s" * 2000), id="state-2kb"),
    pytest.param(add(("id_token_hint", "x.y.z")), id="id_token_hint-garbage-without-none"),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("build", ODD_BUT_LEGAL)
def test_authorize_odd_but_legal_values_continue_to_sign_in(issuer, clients, method, build):
    """Unknown parameters are ignored (RFC 6749 3.1) and odd but well-formed values of
    display, ui_locales, claims_locales, acr_values, login_hint, nonce and max_age do not
    stop the request: the user is sent to the hosted sign-in page."""
    response = authorize(issuer, method, build(base_params(clients.web), clients))
    assert_not_server_error(response)
    assert response.status_code == 302, (response.status_code, location_of(response))
    assert location_of(response).startswith("/accounts/login/?next=%2Fauthorize%2Fresume%2F")


def test_authorize_public_client_without_pkce_is_refused_at_its_redirect_uri(issuer, clients):
    """A public client must send a code_challenge (RFC 9700 2.1.1): invalid_request."""
    response = authorize(issuer, "GET", base_params(clients.spa))
    assert_error_redirect(
        response, redirect_uri=clients.spa.redirect_uri, issuer=issuer, errors={"invalid_request"}
    )


@pytest.mark.parametrize(
    ("state_bytes", "expected_state"),
    [
        pytest.param(b"%ff%fe", "\ufffd\ufffd", id="invalid-utf8-escape"),
        pytest.param(b"%zz", "%zz", id="bad-escape"),
        pytest.param(b"a%00b", "a\x00b", id="nul"),
    ],
)
def test_authorize_badly_encoded_state_is_echoed_safely(
    issuer, clients, state_bytes, expected_state
):
    """A state that is not valid UTF-8 or has bad escapes does not break the error redirect:
    it goes to the registered redirect_uri only, decoded as the provider read it."""
    query = (
        b"response_type=code&scope=bogus&client_id="
        + quote(clients.web.client_id).encode()
        + b"&redirect_uri="
        + quote(clients.web.redirect_uri, safe="").encode()
        + b"&state="
        + state_bytes
    )
    response = raw_request(issuer, "GET", b"/authorize?" + query)
    params = assert_error_redirect(
        response,
        redirect_uri=clients.web.redirect_uri,
        issuer=issuer,
        errors={"invalid_scope"},
        state=None,
    )
    assert params.get("state") == expected_state


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_authorize_100kb_state_is_refused_without_open_redirect(issuer, clients, method):
    """An oversized state (100 KB) is refused: an error page (or 414 from the server),
    never a 500 and never a redirect elsewhere than the registered redirect_uri."""
    params = replace("state", "s" * 100_000)(base_params(clients.web), clients)
    response = authorize(issuer, method, params)
    assert_not_server_error(response)
    assert 400 <= response.status_code < 500 or response.status_code in (302, 303)
    assert_no_open_redirect(response, clients.web.redirect_uri + "?")


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        pytest.param("POST", "/authorize", b"state=" + b"x" * 3_000_000, id="post-3mb-body"),
        pytest.param(
            "POST",
            "/authorize",
            "&".join(f"p{i}=v" for i in range(2000)).encode(),
            id="post-2000-fields",
        ),
        pytest.param(
            "GET",
            "/authorize?" + "&".join(f"p{i}=v" for i in range(2000)),
            b"",
            id="get-2000-fields",
        ),
    ],
)
def test_authorize_huge_requests_are_refused(issuer, clients, method, path, data):
    """A body over the upload limit, or thousands of junk fields and no client: an error
    page (4xx), no redirect, no 500."""
    response = call(method, issuer + path, data=data or None, headers=FORM if data else None)
    assert_error_page(response)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_authorize_other_methods_are_not_allowed(issuer, clients, method):
    """Only GET and POST are defined for the authorization endpoint (OIDC Core 3.1.2.1)."""
    response = call(method, issuer + "/authorize?" + urlencode(base_params(clients.web)))
    assert response.status_code == 405
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/json", None, id="json"),
        pytest.param("text/plain", None, id="text"),
        pytest.param("multipart/form-data; boundary=xyz", b"--xyz--\r\n", id="multipart"),
        pytest.param("application/x-www-form-urlencoded; charset=bogus-8", None, id="bad-charset"),
    ],
)
def test_authorize_post_with_wrong_content_type_is_refused_safely(
    issuer, clients, content_type, body
):
    """A POSTed authorization request must be a form (OIDC Core 3.1.2.1); anything else
    gets an error page, or, when the form parses, stays on the provider or the registered
    redirect_uri."""
    params = base_params(clients.web)
    if body is None:
        body = (
            json.dumps(dict(params)).encode()
            if "json" in content_type
            else urlencode(params).encode()
        )
    response = call(
        "POST", issuer + "/authorize", data=body, headers={"Content-Type": content_type}
    )
    if content_type.startswith("application/x-www-form-urlencoded"):
        assert_no_open_redirect(response, clients.web.redirect_uri + "?")
    else:
        assert_error_page(response)


# --- resume -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/authorize/resume/unknown-id", id="unknown"),
        pytest.param(b"/authorize/resume/%00", id="nul"),
        pytest.param(b"/authorize/resume/%zz", id="bad-escape"),
        pytest.param(b"/authorize/resume/%c3%28", id="invalid-utf8-escape"),
        pytest.param(b"/authorize/resume/\xff\xfe", id="raw-invalid-utf8"),
        pytest.param(b"/authorize/resume/" + b"a" * 10_000, id="10kb-id"),
        pytest.param(b"/authorize/resume/x?next=//evil.example", id="with-query"),
    ],
)
def test_resume_unknown_or_malformed_id_shows_error_page(issuer, target):
    """Resuming a request that this session does not hold: an error page (or 404)."""
    response = raw_request(issuer, "GET", target)
    assert_error_page(response)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_resume_other_methods_are_not_allowed(issuer, method):
    """/authorize/resume/<id> is reached by redirect only (GET)."""
    response = call(method, issuer + "/authorize/resume/whatever")
    assert response.status_code in (403, 405), response.status_code
    assert "Location" not in response.headers


def test_resume_of_another_browsers_request_shows_error_page(issuer, clients):
    """A pending request belongs to the session that started it: another browser that
    learns its id gets the expired-request page, not the other user's flow."""
    first = Browser(issuer)
    response = first.get("/authorize?" + urlencode(base_params(clients.web)))
    assert response.status_code == 302, response.status_code
    next_url = query_of(response.headers["Location"])["next"]
    assert next_url.startswith("/authorize/resume/")
    stranger = Browser(issuer)
    assert_error_page(stranger.get(next_url))


# --- token endpoint -----------------------------------------------------------------------


def token(issuer: str, data, *, auth: Client | None = None, **kwargs) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}) or {})
    if auth is not None:
        headers.setdefault("Authorization", basic(auth.client_id, auth.client_secret))
    return call("POST", issuer + "/token", data=data, headers=headers, **kwargs)


def code_request(client: Client, code: str = "no-such-code") -> list[tuple[str, str]]:
    return [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", client.redirect_uri),
    ]


TOKEN_CASES: list = [
    pytest.param(
        lambda c: [("code", "x"), ("redirect_uri", c.redirect_uri)],
        {"invalid_request"},
        id="grant_type-missing",
    ),
    pytest.param(
        lambda c: [("grant_type", ""), ("code", "x")],
        {"invalid_request", "unsupported_grant_type"},
        id="grant_type-empty",
    ),
    pytest.param(lambda c: [("grant_type", "bogus")], {"unsupported_grant_type"}, id="bogus"),
    pytest.param(lambda c: [("grant_type", "implicit")], {"unsupported_grant_type"}, id="implicit"),
    pytest.param(
        lambda c: [("grant_type", "password"), ("username", "a@b.c"), ("password", "x")],
        {"unsupported_grant_type"},
        id="password-grant",
    ),
    pytest.param(
        lambda c: [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", "x"),
        ],
        {"unsupported_grant_type"},
        id="device-grant",
    ),
    pytest.param(
        lambda c: [("grant_type", "authorization_code\x00")],
        {"unsupported_grant_type", "invalid_request"},
        id="grant_type-nul",
    ),
    pytest.param(
        lambda c: [("grant_type", "client_credentials")],
        {"unauthorized_client"},
        id="client_credentials-for-web-client",
    ),
    pytest.param(
        lambda c: [("grant_type", "authorization_code"), ("redirect_uri", c.redirect_uri)],
        {"invalid_request"},
        id="code-missing",
    ),
    pytest.param(
        lambda c: code_request(c, ""), {"invalid_request", "invalid_grant"}, id="code-empty"
    ),
    pytest.param(lambda c: code_request(c), {"invalid_grant"}, id="code-unknown"),
    pytest.param(
        lambda c: code_request(c, "abc\x00def"),
        {"invalid_grant", "invalid_request"},
        id="code-nul",
    ),
    pytest.param(
        lambda c: code_request(c, "\x00"), {"invalid_grant", "invalid_request"}, id="code-only-nul"
    ),
    pytest.param(
        lambda c: code_request(c, "c" * 100_000),
        {"invalid_grant", "invalid_request"},
        id="code-100kb",
    ),
    pytest.param(
        lambda c: [*code_request(c), ("grant_type", "authorization_code")],
        {"invalid_request"},
        id="grant_type-twice",
    ),
    pytest.param(
        lambda c: [*code_request(c), ("redirect_uri", c.redirect_uri)],
        {"invalid_request"},
        id="redirect_uri-twice",
    ),
    pytest.param(
        lambda c: [*code_request(c), ("client_id", c.client_id), ("client_id", c.client_id)],
        {"invalid_request"},
        id="client_id-twice",
    ),
    pytest.param(
        lambda c: [("grant_type", "refresh_token")], {"invalid_request"}, id="refresh-missing"
    ),
    pytest.param(
        lambda c: [("grant_type", "refresh_token"), ("refresh_token", "nope")],
        {"invalid_grant"},
        id="refresh-unknown",
    ),
    pytest.param(
        lambda c: [("grant_type", "refresh_token"), ("refresh_token", "a\x00b")],
        {"invalid_grant", "invalid_request"},
        id="refresh-nul",
    ),
]


@pytest.mark.parametrize(("build", "errors"), TOKEN_CASES)
def test_token_bad_request_gets_json_error(issuer, clients, build, errors):
    """Missing, unsupported, duplicated, NUL-carrying and oversized token request
    parameters: 400 with the RFC 6749 5.2 error code in JSON, never a 500."""
    response = token(issuer, build(clients.web), auth=clients.web)
    assert_json_error(response, 400, errors)
    assert response.headers.get("Cache-Control") == "no-store"


RAW_TOKEN_BODIES = [
    pytest.param(b"grant_type=authorization_code&code=%zz", id="code-bad-escape"),
    pytest.param(b"grant_type=authorization_code&code=%c3%28", id="code-invalid-utf8-escape"),
    pytest.param(b"grant_type=authorization_code&code=\xff\xfe\xfd", id="code-raw-invalid-utf8"),
    pytest.param(b"grant_type=authorization_code&code=a%00b", id="code-nul-escape"),
    pytest.param(b"grant_type=authorization_%zzcode&code=x", id="grant_type-bad-escape"),
    pytest.param(b"grant_type=authorization_code&code=x&%", id="lone-percent"),
    pytest.param(b"grant_type=authorization_code&code", id="no-equals"),
    pytest.param(b"&&&===&&", id="separators-only"),
    pytest.param(b"\x00\x01\x02", id="binary"),
]


@pytest.mark.parametrize("body", RAW_TOKEN_BODIES)
def test_token_badly_encoded_body_gets_json_error(issuer, clients, body):
    """Invalid percent-escapes, invalid UTF-8, NUL bytes and binary junk in the form body:
    400 with invalid_request, invalid_grant or unsupported_grant_type in JSON."""
    response = raw_request(
        issuer,
        "POST",
        b"/token",
        headers={**FORM, "Authorization": basic(clients.web.client_id, clients.web.client_secret)},
        body=body,
    )
    assert_json_error(response, 400, {"invalid_request", "invalid_grant", "unsupported_grant_type"})


def test_token_query_parameters_are_refused(issuer, clients):
    """Token requests carry their parameters in the body only (RFC 6749 3.2): parameters in
    the URL query are an invalid_request."""
    response = call(
        "POST",
        issuer + "/token?code=x",
        data=code_request(clients.web),
        headers={"Authorization": basic(clients.web.client_id, clients.web.client_secret)},
    )
    assert_json_error(response, 400, {"invalid_request"})


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/json", b'{"grant_type": "client_credentials"}', id="json"),
        pytest.param("text/plain", b"grant_type=client_credentials", id="text"),
        pytest.param(
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\n'
            b"client_credentials\r\n--xyz--\r\n",
            id="multipart",
        ),
        pytest.param(None, b"grant_type=client_credentials", id="no-content-type"),
    ],
)
def test_token_wrong_content_type_is_invalid_request(issuer, clients, content_type, body):
    """The token endpoint takes application/x-www-form-urlencoded only (RFC 6749 4.4.2)."""
    headers = {"Authorization": basic(clients.service_id, clients.service_secret)}
    if content_type:
        headers["Content-Type"] = content_type
    response = raw_request(issuer, "POST", b"/token", headers=headers, body=body)
    assert_json_error(response, 400, {"invalid_request"})


def test_token_form_with_unknown_charset_does_not_fail(issuer, clients):
    """A form body labelled with an unknown charset is still answered with a JSON error."""
    response = call(
        "POST",
        issuer + "/token",
        data=urlencode(code_request(clients.web)),
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=bogus-8",
            "Authorization": basic(clients.web.client_id, clients.web.client_secret),
        },
    )
    assert_json_error(response, 400, {"invalid_request", "invalid_grant"})


@pytest.mark.parametrize("charset", ["latin-1", "windows-1252"])
@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/authorize", "page"),
        ("/token", "json"),
        ("/introspect", "json"),
        ("/revoke", "json"),
        ("/userinfo", "any"),
        ("/logout", "page"),
        ("/accounts/login/", "page"),
        ("/accounts/signup/", "page"),
        ("/accounts/password/reset/", "page"),
    ],
)
def test_forms_in_another_charset_get_a_clear_400(issuer, clients, path, kind, charset):
    """A form body declared in a charset other than UTF-8, with a byte UTF-8 cannot read
    (Django refuses such forms): a 400 as JSON on the back-channel endpoints, a readable
    400 or 403 page on the hosted ones; never a 500 or a redirect."""
    body = f"client_id={clients.web.client_id}&scope=openid&login=ana%E9@example.com".encode()
    body += "&email=jos\u00e9@example.com&password=x".encode(charset)
    response = call(
        "POST",
        issuer + path,
        data=body,
        headers={"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"},
    )
    assert_not_server_error(response)
    assert location_of(response) is None
    content_type = response.headers.get("Content-Type", "")
    if kind == "json":
        assert response.status_code == 400, (response.status_code, response.text[:300])
        assert content_type.startswith("application/json"), content_type
        assert response.json()["error"] == "invalid_request"
    else:
        # A page: 400, or the refusal a form without its CSRF cookie gets first (403).
        assert response.status_code in (400, 403), (response.status_code, response.text[:300])
        if kind == "page":
            assert content_type.startswith("text/html"), content_type
            assert "<h1" in response.text


@pytest.mark.parametrize(
    ("body", "statuses"),
    [
        pytest.param(b"grant_type=client_credentials&x=" + b"y" * 3_000_000, (400, 413), id="3mb"),
        pytest.param(
            "&".join(f"p{i}=v" for i in range(2000)).encode() + b"&grant_type=client_credentials",
            (200, 400),
            id="2000-unknown-fields",
        ),
    ],
)
def test_token_huge_bodies_are_handled(issuer, clients, body, statuses):
    """A body over the upload limit is refused (4xx); thousands of unknown fields are
    ignored (RFC 6749 3.2) or refused. Never a 500."""
    response = call(
        "POST",
        issuer + "/token",
        data=body,
        headers={**FORM, "Authorization": basic(clients.service_id, clients.service_secret)},
    )
    assert_not_server_error(response)
    assert response.status_code in statuses, response.status_code


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_token_other_methods_are_not_allowed(issuer, clients, method):
    """The token endpoint is POST only (RFC 6749 3.2)."""
    response = call(
        method,
        issuer + "/token?" + urlencode({"grant_type": "client_credentials"}),
        headers={"Authorization": basic(clients.service_id, clients.service_secret)},
    )
    assert response.status_code == 405
    assert "access_token" not in response.text


def test_token_client_credentials_unknown_scope_is_invalid_scope(issuer, clients):
    """A scope the provider does not know: invalid_scope (RFC 6749 5.2)."""
    response = token(
        issuer,
        {"grant_type": "client_credentials", "scope": "bogus"},
        headers={"Authorization": basic(clients.service_id, clients.service_secret)},
    )
    assert_json_error(response, 400, {"invalid_scope"})


# --- client authentication on /token, /revoke and /introspect -----------------------------

AuthVariant = Callable[[Clients], tuple[dict[str, str], list[tuple[str, str]]]]


def _web_basic(secret: str | bytes) -> AuthVariant:
    return lambda c: ({"Authorization": basic(c.web.client_id, secret)}, [])


AUTH_FAILURES: list = [
    pytest.param(_web_basic("wrong-secret"), id="basic-wrong-secret"),
    pytest.param(_web_basic(""), id="basic-empty-secret"),
    pytest.param(
        lambda c: ({"Authorization": basic("no-such-client", "secret")}, []),
        id="basic-unknown-client",
    ),
    pytest.param(lambda c: ({"Authorization": "Basic !!!"}, []), id="basic-not-base64"),
    pytest.param(
        lambda c: ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, []),
        id="basic-without-colon",
    ),
    pytest.param(lambda c: ({"Authorization": "Basic"}, []), id="basic-no-credentials"),
    pytest.param(lambda c: ({"Authorization": "Basic "}, []), id="basic-empty"),
    pytest.param(
        lambda c: ({"Authorization": basic(b"\xff\xfe", b"\xfd")}, []),
        id="basic-invalid-utf8",
    ),
    pytest.param(
        lambda c: ({"Authorization": basic(c.web.client_id + "\x00", c.web.client_secret)}, []),
        id="basic-client_id-nul",
    ),
    pytest.param(
        lambda c: ({"Authorization": basic(c.web.client_id, c.other.client_secret)}, []),
        id="basic-secret-of-another-client",
    ),
    pytest.param(
        lambda c: ({"Authorization": "Bearer " + c.web.client_secret}, []),
        id="bearer-scheme",
    ),
    pytest.param(
        lambda c: ({}, [("client_id", c.web.client_id), ("client_secret", "wrong")]),
        id="post-wrong-secret",
    ),
    pytest.param(
        lambda c: ({}, [("client_id", "no-such-client"), ("client_secret", "x")]),
        id="post-unknown-client",
    ),
    pytest.param(
        lambda c: ({}, [("client_id", c.web.client_id + "\x00"), ("client_secret", "x")]),
        id="post-client_id-nul",
    ),
    pytest.param(lambda c: ({}, [("client_id", c.web.client_id)]), id="post-no-secret"),
    pytest.param(lambda c: ({}, []), id="no-credentials"),
]

ENDPOINT_BODIES: dict[str, Callable[[Clients], list[tuple[str, str]]]] = {
    "/token": lambda c: code_request(c.web),
    "/revoke": lambda c: [("token", "no-such-token")],
    "/introspect": lambda c: [("token", "no-such-token")],
}


@pytest.mark.parametrize("endpoint", list(ENDPOINT_BODIES))
@pytest.mark.parametrize("variant", AUTH_FAILURES)
def test_failed_client_authentication_is_401_invalid_client(issuer, clients, endpoint, variant):
    """Wrong or unknown credentials, malformed Basic headers and missing credentials of a
    confidential client: 401, error=invalid_client, WWW-Authenticate (RFC 6749 5.2). A NUL
    byte in the form body may instead be refused as a malformed request (400
    invalid_request)."""
    headers, extra = variant(clients)
    response = call(
        "POST", issuer + endpoint, data=ENDPOINT_BODIES[endpoint](clients) + extra, headers=headers
    )
    nul_in_body = any("\x00" in value for _, value in extra)
    if nul_in_body and response.status_code == 400:
        assert_json_error(response, 400, {"invalid_request"})
    else:
        assert_invalid_client(response)


@pytest.mark.parametrize("endpoint", list(ENDPOINT_BODIES))
def test_two_client_authentication_methods_are_refused(issuer, clients, endpoint):
    """A client must not use more than one authentication method per request (RFC 6749
    2.3): Basic plus client_secret in the body is refused (400 invalid_request or 401
    invalid_client), even when both are right."""
    data = [
        *ENDPOINT_BODIES[endpoint](clients),
        ("client_id", clients.web.client_id),
        ("client_secret", clients.web.client_secret),
    ]
    response = call(
        "POST",
        issuer + endpoint,
        data=data,
        headers={"Authorization": basic(clients.web.client_id, clients.web.client_secret)},
    )
    assert_not_server_error(response)
    assert response.status_code in (400, 401), (response.status_code, response.text[:300])
    expected = {400: "invalid_request", 401: "invalid_client"}[response.status_code]
    assert response.json().get("error") == expected


@pytest.mark.parametrize("endpoint", list(ENDPOINT_BODIES))
def test_basic_and_body_naming_different_clients_is_refused(issuer, clients, endpoint):
    """Basic credentials of one client and a client_id of another in the body: refused,
    never answered for either client."""
    data = [
        *ENDPOINT_BODIES[endpoint](clients),
        ("client_id", clients.other.client_id),
        ("client_secret", clients.other.client_secret),
    ]
    response = call(
        "POST",
        issuer + endpoint,
        data=data,
        headers={"Authorization": basic(clients.web.client_id, clients.web.client_secret)},
    )
    assert_not_server_error(response)
    assert response.status_code in (400, 401), (response.status_code, response.text)


def test_introspection_refuses_public_clients(issuer, clients):
    """Introspection needs an authenticated confidential client (RFC 7662 2.1): a public
    client naming only its client_id (no secret to prove anything) gets 401."""
    by_body = call(
        "POST",
        issuer + "/introspect",
        data={"token": "no-such-token", "client_id": clients.spa.client_id},
    )
    assert_invalid_client(by_body)
    by_basic = call(
        "POST",
        issuer + "/introspect",
        data={"token": "no-such-token"},
        headers={"Authorization": basic(clients.spa.client_id, "")},
    )
    assert_invalid_client(by_basic)


# --- tokens from a real flow, for the cases that need a valid code or token ---------------


def fresh_code(issuer: str, client: Client, user, password: str) -> str:
    browser = Browser(issuer)
    location = browser.authorize(dict(base_params(client)), email=user.email, password=password)
    assert location.startswith(client.redirect_uri + "?"), location
    return query_of(location)["code"]


def test_token_duplicated_valid_code_is_invalid_request(issuer, clients, user, password):
    """A real code sent twice in one request is refused (RFC 6749 3.2: parameters at most
    once), not redeemed."""
    code = fresh_code(issuer, clients.web, user, password)
    response = token(issuer, [*code_request(clients.web, code), ("code", code)], auth=clients.web)
    assert_json_error(response, 400, {"invalid_request"})


def test_token_redirect_uri_mismatch_is_invalid_grant(issuer, clients, user, password):
    """The redirect_uri at the token endpoint must equal the authorization request's
    (RFC 6749 4.1.3): otherwise invalid_grant."""
    code = fresh_code(issuer, clients.web, user, password)
    data = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", clients.web.redirect_uri + "/other"),
    ]
    assert_json_error(token(issuer, data, auth=clients.web), 400, {"invalid_grant"})


def test_token_code_of_another_client_is_invalid_grant(issuer, clients, user, password):
    """A code issued to one client cannot be redeemed by another (RFC 6749 4.1.3)."""
    code = fresh_code(issuer, clients.web, user, password)
    data = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", clients.web.redirect_uri),
    ]
    assert_json_error(token(issuer, data, auth=clients.other), 400, {"invalid_grant"})


@pytest.fixture
def tokens(issuer, clients, user, password) -> dict:
    code = fresh_code(issuer, clients.web, user, password)
    response = token(issuer, code_request(clients.web, code), auth=clients.web)
    assert response.status_code == 200, response.text
    return response.json()


def test_refresh_with_unknown_scope_is_invalid_scope(issuer, clients, tokens):
    """Asking a refresh for a scope beyond the original grant: invalid_scope (RFC 6749 6)."""
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "scope": "openid bogus",
    }
    assert_json_error(token(issuer, data, auth=clients.web), 400, {"invalid_scope"})


def test_refresh_token_of_another_client_is_invalid_grant(issuer, clients, tokens):
    """A refresh token is bound to its client (RFC 6749 6)."""
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert_json_error(token(issuer, data, auth=clients.other), 400, {"invalid_grant"})


def test_userinfo_token_in_header_and_body_is_invalid_request(issuer, tokens):
    """A bearer token sent by two methods at once is a malformed request (RFC 6750 2, 3.1:
    400 invalid_request)."""
    response = call(
        "POST",
        issuer + "/userinfo",
        data={"access_token": tokens["access_token"]},
        headers={"Authorization": "Bearer " + tokens["access_token"]},
    )
    assert response.status_code == 400, (response.status_code, response.text[:200])
    assert 'error="invalid_request"' in response.headers.get("WWW-Authenticate", "") or (
        response.json().get("error") == "invalid_request"
    )


# --- userinfo -----------------------------------------------------------------------------

MALFORMED_BEARER = [
    pytest.param("Bearer", id="bearer-no-token"),
    pytest.param("Bearer ", id="bearer-empty"),
    pytest.param("Bearer !!!", id="bearer-bad-characters"),
    pytest.param("Bearer a b c", id="bearer-with-spaces"),
    pytest.param("Bearer no-such-token", id="bearer-unknown"),
    pytest.param("bearer no-such-token", id="bearer-lowercase-scheme"),
    pytest.param("Bearer %00", id="bearer-escaped-nul"),
    pytest.param("Bearer " + "t" * 10_000, id="bearer-10kb"),
    pytest.param("Bearer \xff\xfe", id="bearer-latin1-bytes"),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("authorization", MALFORMED_BEARER)
def test_userinfo_malformed_bearer_token_is_401_invalid_token(issuer, method, authorization):
    """A malformed, unknown or oversized bearer token: 401 with
    WWW-Authenticate: Bearer error="invalid_token" (RFC 6750 3.1)."""
    response = raw_request(issuer, method, b"/userinfo", headers={"Authorization": authorization})
    assert_not_server_error(response)
    assert response.status_code == 401, response.status_code
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer"), challenge
    assert 'error="invalid_token"' in challenge, challenge


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-authorization"),
        pytest.param({"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}, id="basic"),
        pytest.param({"Authorization": "Token abc"}, id="other-scheme"),
    ],
)
def test_userinfo_without_bearer_token_is_401_with_bearer_challenge(issuer, headers):
    """No bearer token at all: 401 with a Bearer challenge (RFC 6750 3.1)."""
    response = call("GET", issuer + "/userinfo", headers=headers)
    assert response.status_code == 401, response.status_code
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/x-www-form-urlencoded", b"access_token=nope", id="form-unknown"),
        pytest.param(
            "application/x-www-form-urlencoded", b"access_token=%zz", id="form-bad-escape"
        ),
        pytest.param("application/x-www-form-urlencoded", b"access_token=\xff", id="form-raw-byte"),
        pytest.param("application/json", b'{"access_token": "nope"}', id="json"),
    ],
)
def test_userinfo_bad_token_in_body_is_401(issuer, content_type, body):
    """An unknown or badly encoded token in the POST body, or a JSON body: 401."""
    response = raw_request(
        issuer, "POST", b"/userinfo", headers={"Content-Type": content_type}, body=body
    )
    assert_not_server_error(response)
    assert response.status_code == 401, response.status_code
    assert response.headers.get("www-authenticate", "").startswith("Bearer")


def test_userinfo_token_in_query_is_refused(issuer):
    """Access tokens never travel in the URL (RFC 9700 4.3.2): 400 or 401."""
    response = call("GET", issuer + "/userinfo?access_token=nope")
    assert response.status_code in (400, 401), response.status_code


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_userinfo_other_methods_are_not_allowed(issuer, method):
    """UserInfo answers GET and POST only (OIDC Core 5.3.1)."""
    response = call(method, issuer + "/userinfo", headers={"Authorization": "Bearer x"})
    assert response.status_code == 405


# --- revocation ---------------------------------------------------------------------------


def revoke(issuer: str, clients: Clients, data, **kwargs) -> requests.Response:
    headers = {"Authorization": basic(clients.web.client_id, clients.web.client_secret)}
    headers.update(kwargs.pop("headers", {}))
    return call("POST", issuer + "/revoke", data=data, headers=headers, **kwargs)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"token": "no-such-token"}, id="unknown"),
        pytest.param({"token": "t" * 100_000}, id="100kb"),
        pytest.param({"token": "x", "token_type_hint": "access_token"}, id="hint-access"),
        pytest.param({"token": "x", "token_type_hint": "refresh_token"}, id="hint-refresh"),
    ],
)
def test_revoke_unknown_token_is_200(issuer, clients, data):
    """Revoking a token the provider does not know is a success (RFC 7009 2.2)."""
    response = revoke(issuer, clients, data)
    assert response.status_code == 200, (response.status_code, response.text[:200])


BADLY_ENCODED_TOKENS = [
    pytest.param(b"token=a%00b", id="nul"),
    pytest.param(b"token=%zz", id="bad-escape"),
    pytest.param(b"token=%c3%28", id="invalid-utf8-escape"),
    pytest.param(b"token=\xff\xfe", id="raw-invalid-utf8"),
]


@pytest.mark.parametrize("body", BADLY_ENCODED_TOKENS)
def test_revoke_badly_encoded_token_is_unknown_or_invalid_request(issuer, clients, body):
    """A token with a NUL byte, a bad escape or invalid UTF-8 is either an unknown token
    (200) or a malformed request (400 invalid_request, RFC 7009 2.2.1), never a 500."""
    response = revoke(issuer, clients, body, headers=FORM)
    if response.status_code != 200:
        assert_json_error(response, 400, {"invalid_request"})


def test_revoke_unknown_token_type_hint_is_ignored_or_refused(issuer, clients):
    """An unknown token_type_hint is ignored (200) or refused as unsupported_token_type
    (RFC 7009 2.2.1), never a 500."""
    response = revoke(issuer, clients, {"token": "x", "token_type_hint": "bogus"})
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert response.json()["error"] == "unsupported_token_type"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/x-www-form-urlencoded", b"", id="no-token"),
        pytest.param("application/x-www-form-urlencoded", b"token=", id="empty-token"),
        pytest.param("application/json", b'{"token": "x"}', id="json"),
        pytest.param("text/plain", b"token=x", id="text"),
    ],
)
def test_revoke_without_form_token_is_invalid_request(issuer, clients, content_type, body):
    """The token parameter is required, in a form body (RFC 7009 2.1): invalid_request."""
    response = revoke(issuer, clients, body, headers={"Content-Type": content_type})
    assert_json_error(response, 400, {"invalid_request"})


def test_revoke_token_of_another_client_is_not_revoked(issuer, clients, tokens):
    """Another client "revoking" a token answers 200 but the token stays valid
    (RFC 7009 2.1: the provider checks that the token was issued to the caller)."""
    response = call(
        "POST",
        issuer + "/revoke",
        data={"token": tokens["access_token"]},
        headers={"Authorization": basic(clients.other.client_id, clients.other.client_secret)},
    )
    assert response.status_code == 200
    userinfo = call(
        "GET", issuer + "/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}
    )
    assert userinfo.status_code == 200, userinfo.text


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_revoke_other_methods_are_not_allowed(issuer, clients, method):
    """The revocation endpoint is POST only (RFC 7009 2.1)."""
    response = call(
        method,
        issuer + "/revoke?token=x",
        headers={"Authorization": basic(clients.web.client_id, clients.web.client_secret)},
    )
    assert response.status_code == 405


# --- introspection ------------------------------------------------------------------------


def introspect(issuer: str, clients: Clients, body, **headers: str) -> requests.Response:
    return call(
        "POST",
        issuer + "/introspect",
        data=body,
        headers={
            "Authorization": basic(clients.web.client_id, clients.web.client_secret),
            **headers,
        },
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"token": "no-such-token"}, id="unknown"),
        pytest.param({"token": "t" * 100_000}, id="100kb"),
        pytest.param({"token": "!!!***"}, id="odd-characters"),
        pytest.param({"token": "x", "token_type_hint": "bogus"}, id="unknown-hint"),
        pytest.param({"token": "x", "token_type_hint": "refresh_token"}, id="refresh-hint"),
    ],
)
def test_introspect_unknown_token_is_inactive_only(issuer, clients, body):
    """Unknown or oversized tokens: 200 and exactly {"active": false} (RFC 7662 2.2)."""
    response = introspect(issuer, clients, body)
    assert response.status_code == 200, (response.status_code, response.text[:200])
    assert response.json() == {"active": False}


@pytest.mark.parametrize("body", BADLY_ENCODED_TOKENS)
def test_introspect_badly_encoded_token_is_inactive_or_invalid_request(issuer, clients, body):
    """A badly encoded token is inactive (exactly {"active": false}) or the request is
    malformed (400 invalid_request), never a 500."""
    response = introspect(issuer, clients, body, **{"Content-Type": FORM["Content-Type"]})
    if response.status_code == 200:
        assert response.json() == {"active": False}
    else:
        assert_json_error(response, 400, {"invalid_request"})


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/x-www-form-urlencoded", b"", id="no-token"),
        pytest.param("application/x-www-form-urlencoded", b"token=", id="empty-token"),
        pytest.param("application/json", b'{"token": "x"}', id="json"),
    ],
)
def test_introspect_without_form_token_is_invalid_request(issuer, clients, content_type, body):
    """The token parameter is required in a form body (RFC 7662 2.1): invalid_request."""
    response = introspect(issuer, clients, body, **{"Content-Type": content_type})
    assert_json_error(response, 400, {"invalid_request"})


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_introspect_other_methods_are_not_allowed(issuer, clients, method):
    """The introspection endpoint is POST only (RFC 7662 2.1)."""
    response = call(
        method,
        issuer + "/introspect?token=x",
        headers={"Authorization": basic(clients.web.client_id, clients.web.client_secret)},
    )
    assert response.status_code == 405


# --- discovery and JWKS -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks"])
@pytest.mark.parametrize(
    "query",
    [
        pytest.param(b"", id="plain"),
        pytest.param(b"?%zz=%c3%28", id="bad-escapes"),
        pytest.param(b"?a=\xff\xfe", id="raw-bytes"),
        pytest.param(b"?a=%00", id="nul"),
        pytest.param(b"?" + b"&".join(b"p%d=v" % i for i in range(2000)), id="2000-fields"),
    ],
)
def test_metadata_ignores_junk_query(issuer, path, query):
    """Discovery and JWKS ignore whatever query they are given: 200 JSON."""
    response = raw_request(issuer, "GET", path.encode() + query)
    assert response.status_code == 200, response.status_code
    assert isinstance(response.json(), dict)


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_metadata_other_methods_are_not_allowed(issuer, path, method):
    """Discovery and JWKS are read-only documents (unsafe methods may meet the CSRF check
    first)."""
    response = call(method, issuer + path, data=b"x=1", headers=FORM)
    assert response.status_code in (403, 405)


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks"])
@pytest.mark.parametrize("etag", ['"', "W/", "x" * 5000, '"a", "b", *'])
def test_metadata_garbage_if_none_match_is_ignored(issuer, path, etag):
    """A malformed If-None-Match is no match: the full document comes back."""
    response = call("GET", issuer + path, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()


# --- RP-initiated logout ------------------------------------------------------------------

BYE = "https://rp.example.test/bye"


def _alg_none_token(clients: Clients, issuer: str) -> str:
    claims = {"iss": issuer, "aud": clients.web.client_id, "sub": "1", "exp": 4102444800}
    return b64url({"alg": "none", "typ": "JWT"}) + "." + b64url(claims) + "."


def _hs256_token(clients: Clients, issuer: str) -> str:
    claims = {"iss": issuer, "aud": clients.web.client_id, "sub": "1", "exp": 4102444800}
    return b64url({"alg": "HS256", "typ": "JWT"}) + "." + b64url(claims) + ".c2lnbmF0dXJl"


LOGOUT_REFUSED: list = [
    pytest.param(lambda c, i: {"id_token_hint": "garbage"}, id="hint-garbage"),
    pytest.param(lambda c, i: {"id_token_hint": "a.b.c"}, id="hint-three-parts"),
    pytest.param(lambda c, i: {"id_token_hint": "a\x00.b.c"}, id="hint-nul"),
    pytest.param(lambda c, i: {"id_token_hint": "h" * 100_000}, id="hint-100kb"),
    pytest.param(
        lambda c, i: {"id_token_hint": _alg_none_token(c, i), "post_logout_redirect_uri": BYE},
        id="hint-alg-none",
    ),
    pytest.param(
        lambda c, i: {"id_token_hint": _hs256_token(c, i), "post_logout_redirect_uri": BYE},
        id="hint-hs256",
    ),
    pytest.param(
        lambda c, i: {"id_token_hint": "garbage", "post_logout_redirect_uri": BYE},
        id="hint-garbage-with-redirect",
    ),
    pytest.param(lambda c, i: {"client_id": "no-such-client"}, id="client_id-unknown"),
    pytest.param(lambda c, i: {"client_id": c.web.client_id + "\x00"}, id="client_id-nul"),
    pytest.param(lambda c, i: {"client_id": "c" * 10_000}, id="client_id-10kb"),
    pytest.param(
        lambda c, i: {"client_id": c.web.client_id, "post_logout_redirect_uri": EVIL},
        id="redirect-unregistered",
    ),
    pytest.param(
        lambda c, i: {"client_id": c.web.client_id, "post_logout_redirect_uri": BYE + "?x=1"},
        id="redirect-extra-query",
    ),
    pytest.param(
        lambda c, i: {"client_id": c.web.client_id, "post_logout_redirect_uri": BYE + "\x00"},
        id="redirect-nul",
    ),
    pytest.param(
        lambda c, i: {"client_id": c.other.client_id, "post_logout_redirect_uri": "//evil.example"},
        id="redirect-scheme-relative",
    ),
    pytest.param(lambda c, i: {"post_logout_redirect_uri": BYE}, id="redirect-without-client"),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("build", LOGOUT_REFUSED)
def test_logout_untrusted_request_shows_error_page(issuer, clients, method, build):
    """An id_token_hint that does not verify (garbage, alg none, HS256), an unknown
    client or an unregistered post_logout_redirect_uri: an error page, no redirect
    (OIDC RP-Initiated Logout 1.0 section 2 and 3)."""
    params = build(clients, issuer)
    if method == "GET":
        response = call("GET", issuer + "/logout?" + urlencode(params))
    else:
        response = call("POST", issuer + "/logout", data=params)
    assert_error_page(response)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/logout?client_id=%zz&post_logout_redirect_uri=x", id="bad-escape"),
        pytest.param(b"/logout?client_id=%c3%28&post_logout_redirect_uri=x", id="invalid-utf8"),
        pytest.param(b"/logout?id_token_hint=\xff\xfe", id="hint-raw-bytes"),
        pytest.param(b"/logout?post_logout_redirect_uri=%", id="lone-percent"),
    ],
)
def test_logout_badly_encoded_request_shows_error_page(issuer, target):
    """Bad escapes and raw bytes in logout parameters: an error page, no 500."""
    assert_error_page(raw_request(issuer, "GET", target))


@pytest.mark.parametrize(
    "pairs",
    [
        pytest.param(lambda c: [("post_logout_redirect_uri", BYE)] * 2, id="redirect-twice"),
        pytest.param(
            lambda c: [("post_logout_redirect_uri", BYE), ("post_logout_redirect_uri", EVIL)],
            id="registered-then-evil",
        ),
        pytest.param(
            lambda c: [("post_logout_redirect_uri", EVIL), ("post_logout_redirect_uri", BYE)],
            id="evil-then-registered",
        ),
        pytest.param(
            lambda c: [("client_id", c.other.client_id), ("client_id", c.web.client_id)],
            id="client_id-twice",
        ),
        pytest.param(lambda c: [("state", "s" * 100_000)], id="state-100kb"),
    ],
)
def test_logout_duplicated_or_oversized_parameters_never_redirect_elsewhere(issuer, clients, pairs):
    """Duplicated or oversized logout parameters never lead to an unregistered address."""
    data = [("client_id", clients.web.client_id), *pairs(clients)]
    response = call("POST", issuer + "/logout", data=data)
    assert_no_open_redirect(response, issuer, BYE + "?", BYE)
    assert location_of(response) != BYE + "?x=1"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_logout_other_methods_are_not_allowed(issuer, method):
    """The end-session endpoint takes GET and POST (RP-Initiated Logout 1.0 section 2)."""
    assert call(method, issuer + "/logout").status_code == 405


def test_logout_json_body_shows_error_page(issuer, clients):
    """A POSTed logout request must be a form."""
    response = call(
        "POST",
        issuer + "/logout",
        data=json.dumps({"post_logout_redirect_uri": BYE, "client_id": clients.web.client_id}),
        headers={"Content-Type": "application/json"},
    )
    assert_error_page(response)


# --- logout confirmation, consent and the sign-in page (CSRF-protected forms) -------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_logout_confirm_other_methods_are_not_allowed(issuer, method):
    """The confirmation is a POSTed form (unsafe methods meet the CSRF check first)."""
    assert call(method, issuer + "/logout/confirm").status_code in (403, 405)


def test_logout_confirm_without_csrf_token_is_forbidden(issuer):
    """A cross-site POST (no CSRF token) cannot sign anybody out."""
    response = call("POST", issuer + "/logout/confirm", data={"confirm": "yes"})
    assert response.status_code == 403


@pytest.mark.parametrize("confirm", ["no", "", "yes\x00", "y" * 10_000])
def test_logout_confirm_without_pending_request_stays_on_provider(issuer, confirm):
    """A confirmation with nothing pending, or a junk answer, stays on the provider."""
    browser = Browser(issuer)
    page = browser.get("/accounts/login/")
    assert page.status_code == 200
    response = browser.post(
        "/logout/confirm",
        data={"csrfmiddlewaretoken": Browser.csrf(page.text), "confirm": confirm},
        headers={"Referer": issuer + "/accounts/login/"},
    )
    assert_no_open_redirect(response, issuer + "/")
    assert response.status_code in (200, 302, 303)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/consent/unknown/", id="unknown"),
        pytest.param(b"/consent/%00/", id="nul"),
        pytest.param(b"/consent/%zz/", id="bad-escape"),
        pytest.param(b"/consent/%c3%28/", id="invalid-utf8-escape"),
        pytest.param(b"/consent/\xff/", id="raw-byte"),
        pytest.param(b"/consent/" + b"a" * 10_000 + b"/", id="10kb-id"),
    ],
)
def test_consent_unknown_or_malformed_id_shows_error_page(issuer, target):
    """A consent page for a request this session does not hold: an error page (or 404)."""
    assert_error_page(raw_request(issuer, "GET", target))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_consent_other_methods_are_not_allowed(issuer, method):
    """The consent screen is a page (GET) and a form (POST); unsafe methods meet the CSRF
    check first."""
    assert call(method, issuer + "/consent/whatever/").status_code in (403, 405)


@pytest.fixture
def consent_page(issuer, clients, user, password) -> tuple[Browser, requests.Response]:
    """A signed-in browser looking at the consent screen of the third-party client."""
    browser = Browser(issuer)
    response = browser.follow_local(
        browser.get("/authorize?" + urlencode(base_params(clients.other)))
    )
    assert "/accounts/login/" in response.url, response.url
    response = browser.login_form(response, user.email, password)
    assert response.status_code == 200, response.status_code
    assert "/consent/" in response.url, response.url
    return browser, response


def test_consent_post_without_csrf_token_is_forbidden(issuer, consent_page):
    """A cross-site POST cannot grant consent on the user's behalf."""
    browser, page = consent_page
    response = call(
        "POST",
        page.url,
        data={"decision": "allow"},
        cookies=browser.session.cookies,
    )
    assert response.status_code == 403


@pytest.mark.parametrize("decision", ["", "maybe", "allow\x00", "a" * 10_000])
def test_consent_junk_decision_shows_the_screen_again(issuer, consent_page, decision):
    """A decision other than allow or deny grants nothing and redirects nowhere."""
    browser, page = consent_page
    response = browser.post(
        page.url,
        data={"csrfmiddlewaretoken": Browser.csrf(page.text), "decision": decision},
        headers={"Referer": page.url},
    )
    assert response.status_code == 200, response.status_code
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example/x", "https://evil.example/x", "/\\evil.example", "%00", "n" * 10_000],
)
def test_login_page_with_hostile_next_is_shown(issuer, next_url):
    """The sign-in page renders whatever next it is given (it is only used when safe)."""
    response = call("GET", issuer + "/accounts/login/?" + urlencode({"next": next_url}))
    assert response.status_code == 200, response.status_code


@pytest.mark.parametrize("next_url", ["//evil.example/x", "https://evil.example/x", "/\\evil"])
def test_login_never_redirects_to_hostile_next(issuer, user, password, next_url):
    """After a successful sign-in, an off-site next is ignored (no open redirect)."""
    browser = Browser(issuer)
    page = browser.get("/accounts/login/?" + urlencode({"next": next_url}))
    response = browser.post(
        page.url,
        data={
            "csrfmiddlewaretoken": Browser.csrf(page.text),
            "login": user.email,
            "password": password,
            "next": next_url,
        },
        headers={"Referer": page.url},
    )
    assert response.status_code in (302, 303), response.status_code
    location = response.headers["Location"]
    assert "evil" not in location, location
    assert_no_open_redirect(response, issuer + "/")


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="no-fields"),
        pytest.param({"login": "someone@example.com"}, id="no-password"),
        pytest.param({"password": "x"}, id="no-login"),
        pytest.param({"login": "l" * 10_000 + "@example.com", "password": "x"}, id="login-10kb"),
        pytest.param({"login": "a\x00b@example.com", "password": "x"}, id="login-nul"),
        pytest.param({"login": "not-an-email", "password": "x"}, id="login-not-email"),
    ],
)
def test_login_malformed_form_is_shown_again(issuer, fields):
    """Missing, oversized or NUL-carrying sign-in fields: the form again (200), no
    session and no redirect."""
    browser = Browser(issuer)
    page = browser.get("/accounts/login/")
    response = browser.post(
        "/accounts/login/",
        data={"csrfmiddlewaretoken": Browser.csrf(page.text), **fields},
        headers={"Referer": page.url},
    )
    assert response.status_code in (200, 400), response.status_code
    assert "Location" not in response.headers


def test_login_with_100kb_password_is_refused_without_error(issuer, user):
    """A 100 KB password for a real account is just a wrong password."""
    browser = Browser(issuer)
    page = browser.get("/accounts/login/")
    response = browser.post(
        "/accounts/login/",
        data={
            "csrfmiddlewaretoken": Browser.csrf(page.text),
            "login": user.email,
            "password": "p" * 100_000,
        },
        headers={"Referer": page.url},
    )
    assert response.status_code in (200, 400), response.status_code
    assert "Location" not in response.headers


def test_login_with_invalid_utf8_body_is_refused_without_error(issuer):
    """Raw invalid UTF-8 in the sign-in form: no 500, no session."""
    browser = Browser(issuer)
    page = browser.get("/accounts/login/")
    body = (
        b"csrfmiddlewaretoken="
        + Browser.csrf(page.text).encode()
        + b"&login=\xff\xfe%40example.com&password=%c3%28"
    )
    response = browser.post(
        "/accounts/login/",
        data=body,
        headers={**FORM, "Referer": page.url},
    )
    assert response.status_code in (200, 400), response.status_code
    assert "Location" not in response.headers


def test_login_post_without_csrf_token_is_forbidden(issuer, user, password):
    """A cross-site sign-in POST (login CSRF) is refused."""
    response = call(
        "POST", issuer + "/accounts/login/", data={"login": user.email, "password": password}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_login_other_methods_are_not_allowed(issuer, method):
    """The sign-in page is a page and a form."""
    assert call(method, issuer + "/accounts/login/").status_code in (403, 405)
