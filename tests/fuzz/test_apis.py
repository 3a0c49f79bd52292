"""Fuzzing the JSON APIs of the back ends: consent (/api/consent/), profile
(/api/profile/), interactions ingest and identify (/api/interactions/), the unified customer
(/api/customers/), personalization (/api/personalization/), events by reference
(/api/events/) and Shared Signals (/ssf/), through the back-channel handler of
ciam/fastpath.py as production serves them.

Bodies are JSON of every shape (objects with the members each endpoint reads and hostile
values, other JSON values, nesting past the parser's recursion limit, invalid UTF-8, lone
surrogate escapes), sent with right and wrong content types, methods, customer references
and tokens. No answer may be a 5xx; the APIs answer JSON, never an HTML page with an input
in it. Each test is bounded by its number of examples and takes well under a minute on one
core.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import World, budget
from .strategies import (
    deep_json,
    header_value,
    hostile,
    hostile_email,
    json_text,
    json_values,
    marker,
)

pytestmark = pytest.mark.long

JSON_TYPES = (
    "application/json",
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "APPLICATION/JSON",
    "application/json;;",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/secevent+jwt",
    "",
)

# Members each endpoint reads, so that values reach the validation behind the shape check.
MEMBERS = {
    "records": [
        "purpose",
        "version",
        "action",
        "language",
        "text_sha256",
        "ip_address",
        "user_agent",
        "channel",
    ],
    "profile": ["values", "verified", "source_detail"],
    "ingest": ["interactions"],
    "interaction": [
        "idempotency_key",
        "type",
        "channel",
        "occurred_at",
        "user",
        "anonymous_id",
        "properties",
        "purpose",
    ],
    "identify": ["anonymous_id", "user"],
    "stream": [
        "delivery",
        "events_requested",
        "description",
        "stream_id",
        "status",
        "reason",
        "subject",
        "state",
        "iss",
        "aud",
        "events_delivered",
        "min_verification_interval",
    ],
}
PLAUSIBLE = {
    "purpose": st.sampled_from(["terms", "newsletter", "analytics", "personalization"]),
    "version": st.sampled_from([1, 2, "1", 0, -1, 1.5, 2**64]),
    "action": st.sampled_from(["granted", "withdrawn", "declined", "expired"]),
    "language": st.sampled_from(["en", "pt-BR", "xx"]),
    "text_sha256": st.sampled_from(["0" * 64, "A" * 64, "g" * 64, ""]),
    "ip_address": st.sampled_from(["203.0.113.7", "::1", "999.1.1.1", "fe80::1%eth0", ""]),
    "channel": st.sampled_from(["api", "import", "admin", "web", "store", "portal"]),
    "type": st.sampled_from(
        ["purchase", "page_view", "app_open", "support_contact", "campaign_click", "login"]
    ),
    "occurred_at": st.sampled_from(
        [
            "2026-12-01T14:03:00-03:00",
            "2026-12-01T14:03:00",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00+14:00",
            "2026-02-30T00:00:00Z",
            "now",
            "1764587045",
        ]
    ),
    "properties": st.sampled_from(
        [
            {"order_id": "A-1", "amount": "199.90", "currency": "BRL"},
            {"amount": "1e400", "currency": "XXX"},
            {"amount": -1},
            {"amount": "NaN"},
            {"url": "javascript:x_fuzz(1)"},
            {"url": "https://shop.example/p/1"},
            {"campaign": None},
            {"\u0000": "\ud800"},
        ]
    ),
    "status": st.sampled_from(["enabled", "paused", "disabled", "ENABLED"]),
    "delivery": st.sampled_from(
        [
            {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://rp.example.test/ssf"},
            {"method": "urn:ietf:rfc:8935", "endpoint_url": "http://127.0.0.1/ssf"},
            {
                "method": "urn:ietf:rfc:8935",
                "endpoint_url": "https://bücher.example/ssf",
                "authorization_header": "Bearer \u00ff",
            },
            {"method": "urn:ietf:rfc:8936"},
            {"method": "urn:ietf:rfc:8935", "endpoint_url": 7},
        ]
    ),
    "events_requested": st.sampled_from(
        [
            ["https://schemas.openid.net/secevent/caep/event-type/session-revoked"],
            ["x"],
            "x",
            [],
        ]
    ),
    "min_verification_interval": st.sampled_from([0, 30, -1, "30"]),
}


def _reference(world: World) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                f"email:{world.email}",
                f"sub:{world.subject}",
                f"email:{quote(world.email)}",
                "email:",
                "sub:",
                "email",
                "phone:+55",
                f"EMAIL:{world.email}",
            ]
        ),
        hostile_email().map(lambda email: "email:" + email),
        hostile().map(lambda value: "sub:" + value),
        hostile(),
    )


def _user(world: World) -> st.SearchStrategy[object]:
    return st.one_of(
        st.sampled_from(
            [
                {"email": world.email},
                {"sub": world.subject},
                {"email": None},
                {"sub": 1},
                {},
                [],
                "x",
            ]
        ),
        hostile_email().map(lambda email: {"email": email}),
        json_values(),
    )


def _object(world: World, kind: str) -> st.SearchStrategy[dict]:
    values = {
        **PLAUSIBLE,
        "user": _user(world),
        "subject": st.one_of(
            st.sampled_from(
                [
                    {"format": "email", "email": world.email},
                    {"format": "iss_sub", "iss": world.provider.issuer, "sub": "x"},
                    {"format": "opaque", "id": "x"},
                ]
            ),
            json_values(),
        ),
    }
    members = MEMBERS[kind]
    # A plausible value or any JSON value, per member.
    member_values = {
        name: st.one_of(values[name], json_values()) if name in values else json_values()
        for name in members
    }

    interactions = st.lists(_object(world, "interaction"), max_size=4) if kind == "ingest" else None

    @st.composite
    def build(draw: st.DrawFn) -> dict:
        chosen = draw(st.lists(st.sampled_from(members), unique=True, max_size=len(members)))
        body = {}
        for name in chosen:
            body[name] = draw(member_values[name])
        if interactions is not None and draw(st.booleans()):
            body["interactions"] = draw(interactions)
        if kind == "profile" and draw(st.booleans()):
            body["values"] = draw(
                st.dictionaries(
                    st.one_of(
                        st.sampled_from(
                            [
                                "given_name",
                                "phone_number",
                                "birthdate",
                                "address",
                                "website",
                                "nickname",
                                "gender",
                            ]
                        ),
                        marker(),
                    ),
                    json_values(),
                    max_size=4,
                )
            )
        if draw(st.integers(0, 5)) == 0:
            body[draw(st.one_of(marker(), hostile()))] = draw(json_values())
        return body

    return build()


def api_calls(world: World) -> st.SearchStrategy[tuple[str, str, str, bytes]]:
    """(method, path, query, body) of one API call."""
    reference = _reference(world)
    bodies = {
        kind: _object(world, kind)
        for kind in ("records", "profile", "ingest", "identify", "stream")
    }
    other_json = st.one_of(json_text(), deep_json())
    queries = st.one_of(
        st.sampled_from(
            [
                "",
                "",
                "limit=1",
                "limit=0",
                "limit=101",
                "limit=-1",
                "limit=x",
                "cursor=7",
                "cursor=-1",
                "cursor=%zz",
                "cursor=99999999999999999999",
                "stream_id=x",
                "access_token=x",
                "limit=1&limit=2",
                "%",
                "\xff",
            ]
        ),
        hostile().map(lambda v: "cursor=" + quote(v)),
        hostile().map(lambda v: "stream_id=" + quote(v)),
    )

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str, str, bytes]:
        ref = draw(reference)
        path, kind, method = draw(
            st.sampled_from(
                [
                    ("/api/consent/users/{ref}", None, "GET"),
                    ("/api/consent/users/{ref}/history", None, "GET"),
                    ("/api/consent/users/{ref}/records", "records", "POST"),
                    ("/api/consent/{ref}", None, "GET"),
                    ("/api/profile/schema", None, "GET"),
                    ("/api/profile/users/{ref}", None, "GET"),
                    ("/api/profile/users/{ref}", "profile", "PATCH"),
                    ("/api/interactions/", "ingest", "POST"),
                    ("/api/interactions/identify", "identify", "POST"),
                    ("/api/interactions/{ref}", None, "GET"),
                    ("/api/customers/{ref}", None, "GET"),
                    ("/api/personalization/{ref}", None, "GET"),
                    ("/api/events/{ref}", None, "GET"),
                    ("/ssf/streams", "stream", "POST"),
                    ("/ssf/streams", "stream", "PATCH"),
                    ("/ssf/streams", "stream", "PUT"),
                    ("/ssf/streams", None, "GET"),
                    ("/ssf/streams", None, "DELETE"),
                    ("/ssf/status", "stream", "POST"),
                    ("/ssf/status", None, "GET"),
                    ("/ssf/subjects:add", "stream", "POST"),
                    ("/ssf/subjects:remove", "stream", "POST"),
                    ("/ssf/verify", "stream", "POST"),
                    ("/ssf/{ref}", None, "GET"),
                    ("/.well-known/ssf-configuration", None, "GET"),
                ]
            )
        )
        if draw(st.integers(0, 6)) == 0:
            method = draw(
                st.sampled_from(
                    ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "FOO"]
                )
            )
        if kind is not None and draw(st.integers(0, 3)):
            text = json.dumps(draw(bodies[kind]), ensure_ascii=draw(st.booleans()))
            body = text.encode("utf-8", "surrogatepass")  # a lone surrogate: invalid UTF-8
        elif method in ("POST", "PUT", "PATCH") or draw(st.integers(0, 5)) == 0:
            raw = draw(
                st.one_of(
                    other_json,
                    other_json,
                    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
                )
            )
            body = raw.encode("utf-8", "surrogatepass")
        else:
            body = b""
        return method, path.replace("{ref}", ref), draw(queries), body

    return build()


@budget
@given(data=st.data())
def test_json_apis(world: World, requests_made, data):
    """Every back-end API with the machine token (every API scope), hostile customer
    references, queries and bodies: JSON errors, never a 5xx."""
    method, path, query, body = data.draw(world.strategy("api", lambda: api_calls(world)))
    content_type = data.draw(st.sampled_from(JSON_TYPES))
    world.provider.send(
        method,
        path.encode("utf-8", "surrogatepass"),
        query=query.encode("utf-8", "surrogatepass"),
        body=body,
        content_type=content_type,
        headers={"Authorization": "Bearer " + world.machine_token},
    )


@budget
@given(data=st.data())
def test_json_apis_authorization(world: World, requests_made, data):
    """The APIs with missing, malformed, foreign (a user's access token, an ID token, a
    refresh token) and oversized credentials, the token in the query or the body, and
    non-ASCII and control bytes in headers: 401/403 JSON with a Bearer challenge."""
    method, path, query, body = data.draw(world.strategy("api", lambda: api_calls(world)))
    authorization = data.draw(
        st.one_of(
            st.sampled_from(
                [
                    "Bearer " + world.access_token,
                    "Bearer " + world.id_token,
                    "Bearer " + world.refresh_token,
                    "bearer " + world.machine_token,
                    "Bearer  " + world.machine_token,
                    "Bearer " + world.machine_token + " x",
                    "Bearer",
                    "Bearer ",
                    "Basic " + world.machine_token,
                    "",
                    "Bearer " + "a" * 10_000,
                    "Bearer " + world.machine_token[:-1] + "\u00ff",
                ]
            ),
            header_value().map(lambda value: "Bearer " + value),
            header_value(),
        )
    )
    headers = {"Authorization": authorization}
    if data.draw(st.integers(0, 3)) == 0:
        headers[
            data.draw(
                st.sampled_from(
                    [
                        "Accept",
                        "Accept-Language",
                        "X-Request-ID",
                        "X-Forwarded-For",
                        "Origin",
                        "User-Agent",
                    ]
                )
            )
        ] = data.draw(header_value())
    world.provider.send(
        method,
        path.encode("utf-8", "surrogatepass"),
        query=query.encode("utf-8", "surrogatepass"),
        body=body,
        content_type=data.draw(st.sampled_from(JSON_TYPES)),
        headers=headers,
    )
