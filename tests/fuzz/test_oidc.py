"""Fuzzing the OpenID Connect endpoints: authorization (GET and POST, anonymous and signed
in, followed through the sign-in, consent and step pages it leads to), token, UserInfo,
introspection, revocation and RP-Initiated Logout.

Whatever arrives, no answer is a 5xx, no redirect leaves for an address the test clients
did not register, and no HTML page carries an input unescaped (tests/fuzz/harness.py).
Each test is bounded by its number of examples (``max_examples``) and takes well under a
minute on one core.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import FORM, World, budget
from .harness import Browser
from .strategies import (
    basic_credentials,
    deep_json,
    encoded,
    form_content_type,
    header_value,
    hostile,
    json_text,
    marker,
)

pytestmark = pytest.mark.long


def authorize_values(world: World, client_id: str, redirect_uri: str) -> dict:
    """Per parameter: the value a client would send and plausible alternatives."""
    return {
        "response_type": ("code", st.sampled_from(["token", "id_token", "code id_token", "none"])),
        "client_id": (
            client_id,
            st.sampled_from(
                [
                    world.web.client_id,
                    world.partner.client_id,
                    world.spa.client_id,
                    world.service.client_id,
                    "unknown",
                ]
            ),
        ),
        "redirect_uri": (
            redirect_uri,
            st.sampled_from(
                [
                    redirect_uri + "/",
                    redirect_uri + "?x=1",
                    redirect_uri + "#f",
                    redirect_uri.upper(),
                    "https://evil.example/callback",
                    "//evil.example/cb",
                    "https://rp.example.test@evil.example/callback",
                    "https://rp.example.test/callback/../evil",
                    "http://rp.example.test/callback",
                    "https://rp.example.test/callback\x00",
                    "javascript:alert(1)",
                ]
            ),
        ),
        "scope": (
            "openid",
            st.sampled_from(
                [
                    "openid profile email",
                    "profile",
                    "openid offline_access",
                    "openid consents",
                    "openid interests",
                    "openid consent:read",
                    "openid ssf:manage",
                    "",
                    "openid openid",
                    "openid phone address",
                    "OPENID",
                ]
            ),
        ),
        "state": ("st", hostile()),
        "nonce": ("n", hostile()),
        "prompt": (
            None,
            st.sampled_from(
                [
                    "none",
                    "login",
                    "consent",
                    "select_account",
                    "create",
                    "none login",
                    "login consent",
                ]
            ),
        ),
        "max_age": (None, st.sampled_from(["0", "1", "3600", "-1", "1.5", "٣", "9" * 40])),
        "login_hint": (None, st.one_of(st.just(world.email), hostile())),
        "id_token_hint": (
            None,
            st.sampled_from(
                [world.id_token, world.id_token[:-4] + "AAAA", "a.b.c", "eyJhbGciOiJub25lIn0.e30."]
            ),
        ),
        "ui_locales": (
            None,
            st.sampled_from(
                ["pt-BR", "pt-br en", "xx", "de-DE-1996", "*", "en" * 40, "pt_BR", "ZH-hant-TW"]
            ),
        ),
        "acr_values": (None, st.sampled_from(["1", "2", "3", "urn:x", "2 1", "0"])),
        "claims": (
            None,
            st.one_of(
                json_text(),
                deep_json(),
                st.sampled_from(
                    [
                        '{"id_token":{"acr":{"essential":true,"values":["2"]}}}',
                        '{"userinfo":{"email":null,"interests":{"essential":true}}}',
                        '{"userinfo":[]}',
                        '{"id_token":{"acr":{"essential":true,"values":"2"}}}',
                        '{"id_token":{"acr":{"essential":true,"values":[{"a":1},null,2]}}}',
                        '{"userinfo":{"given_name":{"value":{"x":[1]}}}}',
                    ]
                ),
            ),
        ),
        "code_challenge": (None, st.sampled_from(["E" * 43, "E" * 129, "E" * 42, "é" * 43, ""])),
        "code_challenge_method": (None, st.sampled_from(["S256", "plain", "s256", ""])),
        "response_mode": (None, st.sampled_from(["query", "fragment", "form_post", "jwt"])),
        "request": (None, st.sampled_from(["eyJhbGciOiJub25lIn0.e30.", "x"])),
        "request_uri": (None, st.sampled_from(["https://evil.example/r", "urn:x"])),
        "display": (None, st.sampled_from(["page", "popup", "touch", "wap"])),
        "claims_locales": (None, st.sampled_from(["pt-BR", "xx"])),
    }


def authorize_pairs(world: World) -> st.SearchStrategy[list[tuple[str, str]]]:
    clients = [world.web, world.partner, world.spa]
    values = {
        client.client_id: authorize_values(world, client.client_id, client.redirect_uri)
        for client in clients
    }
    extras = st.lists(st.tuples(st.one_of(marker(), hostile()), hostile()), max_size=2)

    @st.composite
    def build(draw: st.DrawFn) -> list[tuple[str, str]]:
        client = draw(st.sampled_from(clients))
        return draw(pairs_for(client, values[client.client_id], extras))

    return build()


@st.composite
def pairs_for(draw: st.DrawFn, client, values: dict, extras) -> list[tuple[str, str]]:
    """A request that is valid but for a few changes: the deeper it gets (sign-in page,
    consent, the steps, the code), the more of the provider a hostile value meets."""
    chosen: dict[str, list[str]] = {}
    for name, (usual, others) in values.items():
        if usual is not None:
            chosen[name] = [usual]
        elif draw(st.integers(0, 4)) == 0:  # an optional parameter, with a plausible value
            chosen[name] = [draw(others)]
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 2, 3, 6]))):
        name = draw(st.sampled_from(sorted(values)))
        action = draw(st.sampled_from(["drop", "hostile", "hostile", "twice", "other"]))
        if action == "drop":
            chosen.pop(name, None)
        elif action == "twice":
            chosen.setdefault(name, [draw(values[name][1])]).append(
                draw(st.one_of(st.just(chosen[name][0]), hostile()))
            )
        else:
            chosen[name] = [draw(hostile() if action == "hostile" else values[name][1])]
    pairs = [(name, value) for name, listed in chosen.items() for value in listed]
    if not client.client_secret and draw(st.booleans()):
        pairs += [("code_challenge", "E" * 43), ("code_challenge_method", "S256")]
    return draw(st.permutations(pairs + draw(extras)))


@budget
@given(data=st.data())
def test_authorization_endpoint(world: World, requests_made, data):
    """The authorization endpoint, by GET and POST, anonymous or signed in, with every
    parameter kept, dropped, repeated, replaced or made hostile, and the pages it leads to
    (sign-in, consent, steps) followed."""
    pairs = data.draw(world.strategy("authorize", lambda: authorize_pairs(world)))
    # Mostly encoded as a client would, so that the values reach the pages behind.
    body = (
        data.draw(encoded(pairs))
        if data.draw(st.integers(0, 4)) == 0
        else urlencode(pairs).encode()
    )
    browser = data.draw(st.sampled_from([world.anonymous, world.signed_in, Browser()]))
    if data.draw(st.booleans()):
        reply = world.provider.send("GET", "/authorize", query=body, browser=browser)
    else:
        content_type = data.draw(st.one_of(st.just(FORM), form_content_type()))
        reply = world.provider.send(
            "POST", "/authorize", body=body, content_type=content_type, browser=browser
        )
    world.provider.follow(reply, browser)


@budget
@given(
    path=st.sampled_from(
        [
            "/authorize/resume/",
            "/consent/",
            "/profile/question/",
            "/profile/required/",
            "/account/mfa/verify/",
            "/account/confirm/",
            "/account/passkeys/offer/",
            "/account/email-sign-in/social/ended/",
        ]
    ),
    pending_id=st.one_of(hostile(), st.sampled_from(["x", "0" * 32, "%00", "."])),
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT"]),
    signed_in=st.booleans(),
)
def test_step_pages_with_unknown_pending_requests(
    world: World, requests_made, path, pending_id, method, signed_in
):
    """Every page that continues a pending authorization request, asked for one the session
    does not hold (or a malformed id): the expired page or a 4xx, never a 5xx."""
    browser = world.signed_in if signed_in else world.anonymous
    suffix = "" if path.startswith("/authorize") else "/"
    if method == "POST":
        world.form_post(path + pending_id + suffix, [("decision", "allow")], browser=browser)
    else:
        world.provider.send(method, (path + pending_id + suffix).encode("utf-8"), browser=browser)


def token_fields(world: World) -> st.SearchStrategy[list[tuple[str, str]]]:
    grant = st.sampled_from(
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            "implicit",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "",
        ]
    )
    optional = {
        "code": st.one_of(hostile(), st.just("a" * 30)),
        "redirect_uri": st.sampled_from([world.web.redirect_uri, "https://evil.example/cb", ""]),
        "refresh_token": st.one_of(st.just(world.refresh_token), hostile()),
        "scope": st.sampled_from(
            [
                "openid",
                "consent:read",
                "profile:read events:write",
                "x",
                "",
                "openid offline_access",
            ]
        ),
        "client_id": st.sampled_from(
            [world.web.client_id, world.service.client_id, world.spa.client_id, "unknown", ""]
        ),
        "client_secret": st.sampled_from(
            [world.web.client_secret, world.service.client_secret, "wrong", ""]
        ),
        "code_verifier": st.one_of(st.just("v" * 43), hostile()),
        "client_assertion_type": st.just("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        "client_assertion": st.sampled_from(["a.b.c", world.id_token]),
        "username": st.just(world.email),
        "password": st.just(world.password),
    }
    return st.tuples(
        st.tuples(st.just("grant_type"), st.one_of(grant, hostile())),
        st.lists(
            st.sampled_from(sorted(optional)).flatmap(
                lambda key: st.tuples(st.just(key), optional[key])
            ),
            max_size=6,
        ),
    ).map(lambda t: [t[0], *t[1]])


@budget
@given(data=st.data())
def test_token_endpoint(world: World, requests_made, data):
    """The token endpoint with any grant and parameters, repeated parameters, parameters in
    the query, form bodies with broken escapes and charsets, wrong content types and
    malformed client authentication (Basic with bad base64, no colon, non-UTF-8)."""
    pairs = data.draw(world.strategy("token", lambda: token_fields(world)))
    body = data.draw(encoded(pairs))
    client = data.draw(st.sampled_from([world.web, world.service, world.spa]))
    headers = {}
    if data.draw(st.integers(0, 3)):
        headers["Authorization"] = data.draw(
            world.strategy(
                "basic " + client.client_id,
                lambda: basic_credentials(client.client_id, client.client_secret),
            )
        )
    query = data.draw(st.sampled_from([b"", b"", b"", b"code=x", b"%zz", b"client_secret=x"]))
    method = data.draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "OPTIONS"]))
    world.provider.send(
        method,
        "/token",
        query=query,
        body=body,
        content_type=data.draw(form_content_type()),
        headers=headers,
    )


@budget
@given(data=st.data())
def test_userinfo_introspection_revocation(world: World, requests_made, data):
    """UserInfo (Bearer header, form or query token), introspection and revocation
    (client authentication and token parameters of any shape)."""
    path = data.draw(st.sampled_from(["/userinfo", "/introspect", "/revoke"]))
    token = data.draw(
        st.one_of(
            st.sampled_from(
                [world.access_token, world.refresh_token, world.machine_token, world.id_token]
            ),
            hostile(),
        )
    )
    headers: dict[str, str] = {}
    how = data.draw(st.sampled_from(["bearer", "basic", "other", "none"]))
    if how == "bearer":
        headers["Authorization"] = (
            data.draw(st.sampled_from(["Bearer ", "bearer ", "Bearer  ", "BEARER ", "Bearer\t"]))
            + token.encode("utf-8").decode("latin-1")[:9000]
        )
    elif how == "basic":
        client = data.draw(st.sampled_from([world.web, world.service]))
        headers["Authorization"] = data.draw(
            world.strategy(
                "basic " + client.client_id,
                lambda: basic_credentials(client.client_id, client.client_secret),
            )
        )
    elif how == "other":
        headers["Authorization"] = data.draw(header_value())
    fields = [("token", token)]
    fields += data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["token_type_hint", "access_token", "client_id", "client_secret", "token"]
                ),
                st.one_of(
                    st.sampled_from(
                        [
                            "access_token",
                            "refresh_token",
                            "id_token",
                            world.web.client_id,
                            world.web.client_secret,
                        ]
                    ),
                    hostile(),
                ),
            ),
            max_size=3,
        )
    )
    method = data.draw(st.sampled_from(["POST", "POST", "GET", "DELETE"]))
    body = data.draw(encoded(fields))
    query = data.draw(st.sampled_from([b"", b"", body[:200]]))
    world.provider.send(
        method,
        path,
        query=query,
        body=body if method != "GET" else b"",
        content_type=data.draw(form_content_type()),
        headers=headers,
    )


@budget
@given(data=st.data())
def test_end_session(world: World, requests_made, data):
    """RP-Initiated Logout (GET, POST, the confirmation form and the logged-out page) with
    hints, clients and post_logout_redirect_uris of any kind; a redirect only ever goes to
    the client's registered post_logout_redirect_uri."""
    candidates = {
        "id_token_hint": st.one_of(st.just(world.id_token), hostile()),
        "client_id": st.one_of(
            st.sampled_from(
                [world.web.client_id, world.partner.client_id, world.spa.client_id, "x"]
            ),
            hostile(),
        ),
        "post_logout_redirect_uri": st.one_of(
            st.sampled_from(
                [
                    "https://rp.example.test/bye",
                    "https://rp.example.test/bye/",
                    "https://rp.example.test/bye?x=1",
                    "https://evil.example/bye",
                    "//evil.example",
                    "https://rp.example.test/callback",
                ]
            ),
            hostile(),
        ),
        "state": hostile(),
        "ui_locales": st.sampled_from(["pt-BR", "xx", "en"]),
        "logout_hint": hostile(),
    }
    pairs = data.draw(
        st.lists(
            st.sampled_from(sorted(candidates)).flatmap(
                lambda key: st.tuples(st.just(key), candidates[key])
            ),
            max_size=6,
        )
    )
    body = data.draw(encoded(pairs))
    browser = data.draw(st.sampled_from([world.anonymous, Browser()]))
    target = data.draw(st.sampled_from(["/logout", "/logout", "/logout/confirm", "/logged-out"]))
    if data.draw(st.booleans()):
        reply = world.provider.send("GET", target, query=body, browser=browser)
    elif target == "/logout/confirm":
        reply = world.form_post(
            target,
            [("confirm", data.draw(st.sampled_from(["yes", "no", ""]))), *pairs],
            browser=browser,
        )
    else:
        reply = world.provider.send(
            "POST",
            target,
            body=body,
            content_type=data.draw(form_content_type()),
            browser=browser,
        )
    world.provider.follow(reply, browser)
