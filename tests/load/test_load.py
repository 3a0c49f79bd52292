"""Customers at once, for a bounded time: newcomers signing up, existing customers signing
in, tokens refreshed and revoked, every HTTP response counted and checked.

Twelve customer threads for LOAD_SECONDS (30 s) against the live provider (its production
router, ciam.fastpath), then a table of the operations (count, throughput, p50/p95 latency),
written to var/test-reports/load.txt, kept as the test's ``terminal_summary`` property (JUnit
XML) and its report section (``-rP``), and printed at the end of the run (``_show``). Bound: 30 s of
load, each journey's requests time out after 10 s, the threads are given 60 s more to end;
about a minute in all on 2 cores.

- Eight threads sign up new customers, one after the other: the hosted sign-up page from an
  authorization request (PKCE S256, confidential first-party client), the emailed
  verification code, the code exchanged for tokens, the ID token verified, three refreshes
  (each rotating the refresh token), UserInfo, revocation of the refresh token (RFC 7009),
  the revoked token refused (invalid_grant), RP-initiated logout, and prompt=none answered
  login_required.
- Four threads sign existing customers in with their password for a third-party public
  client (PKCE, consent asked the first time), exchange the code, call UserInfo, refresh
  once, sign out, and find the refresh token ended with the session (online tokens).

Limits. All requests leave from one loopback address, and from one address the sign-ups
alone would pass allauth's 20 a minute within the first minute. So the provider is set up as
behind one trusted proxy (CIAM_TRUSTED_PROXY_COUNT=1, conftest.behind_trusted_proxy), as in
production behind a load balancer, and each customer sends its own address (RFC 2544's
benchmarking network, 198.18.0.0/15) as the proxy would; the test checks that the provider
recorded those addresses. Every limit keeps its default: allauth's 20 sign-ups a minute per
address and one verification email per 10 s per email address, the provider's sign-in
back-off (only wrong passwords count; none are sent), the risk engine's rules (each customer
keeps one browser; a pool of 64 existing customers keeps each one's sign-ins far below the
velocity finding's 10 an hour). A limit reached would show as a 429 or an unexpected page
and fail the test.

Passwords: each newcomer and each existing customer has a password of its own, so every
sign-up and each customer's first sign-in hash with the real Argon2id parameters
(tests/fast_hashing.py only reuses a hash already computed for the same password).

The numbers: the customers and the live server share the test's Python process, so the
throughput is what one interpreter on the test machine gives both, not the provider's
capacity in production (several worker processes); on SQLite requests are also answered one
at a time (conftest.provider).
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import itertools
import logging
import re
import secrets
import threading
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.db import connection
from joserfc import jwt
from joserfc.jwk import KeySet

from sessions_ctx.models import BrowserSession
from tests.conftest import query_of
from tests.factories import UserFactory, make_client

from .harness import REDIRECTS, Agent, JourneyFailed, Recorder, page_text, report_table

pytestmark = [pytest.mark.long, pytest.mark.live, pytest.mark.django_db(transaction=True)]

LOAD_SECONDS = 30.0
SIGNING_UP = 8
SIGNING_IN = 4
EXISTING_CUSTOMERS = 64
REFRESHES = 3
REPORT = Path("var/test-reports/load.txt")

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"
RP_AGENT = "relying-party-backend/1.0"
RP_ADDRESS = "192.0.2.10"  # the relying parties' servers (TEST-NET-1)
WEB_REDIRECT = "https://shop.example.test/callback"
WEB_BYE = "https://shop.example.test/bye"
SPA_REDIRECT = "https://partner.example.test/callback"
SPA_BYE = "https://partner.example.test/bye"
CODE_LINE = re.compile(r"^ {4}(\S+)$", re.MULTILINE)


class Addresses:
    """Customers' addresses, one each, from RFC 2544's benchmarking network."""

    def __init__(self) -> None:
        self._hosts = iter(ipaddress.IPv4Network("198.18.0.0/15").hosts())
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return str(next(self._hosts))


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str  # empty: a public client
    redirect_uri: str
    post_logout_redirect_uri: str


@dataclass(frozen=True)
class Existing:
    email: str
    password: str
    address: str


@dataclass(frozen=True)
class Load:
    """What every customer thread shares."""

    issuer: str
    recorder: Recorder
    keys: KeySet
    web: RegisteredClient
    spa: RegisteredClient
    addresses: Addresses
    deadline: float


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def authorization_request(client: RegisteredClient, scope: str) -> AuthorizationRequest:
    """A code request with state, nonce and PKCE S256 (RFC 7636 4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    return AuthorizationRequest("/authorize?" + urlencode(params), state, nonce, verifier)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise JourneyFailed(message)


def follow(agent: Agent, response: Any) -> Any:
    """Follow redirects while they stay on the provider; the last response."""
    while response.status_code in REDIRECTS:
        location = response.headers["Location"]
        if not (location.startswith("/") or location.startswith(agent.issuer)):
            break
        response = agent.get(location, expect=(200, *REDIRECTS))
    return response


def csrf(response: Any) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    check(match is not None, f"no CSRF token on {response.url}")
    assert match is not None
    return match.group(1)


def callback(
    load: Load, response: Any, request: AuthorizationRequest, client: RegisteredClient
) -> dict[str, str]:
    """The authorization response at the client's redirect URI, checked as a careful client
    does: state echoed, iss the issuer (RFC 9207)."""
    check(
        response.status_code in REDIRECTS,
        f"no redirect to the client from {response.url}: HTTP {response.status_code} "
        f"{page_text(response)[:300]}",
    )
    location = response.headers["Location"]
    check(location.startswith(client.redirect_uri + "?"), f"redirect to {location}")
    params = query_of(location)
    check(params.get("state") == request.state, f"state {params}")
    check(params.get("iss") == load.issuer, f"iss {params}")
    return params


def token_request(
    rp: Agent, client: RegisteredClient, data: dict[str, str], *, expect: tuple[int, ...] = (200,)
) -> dict[str, Any]:
    """A token request with the client's authentication (client_secret_basic, or client_id
    alone for a public client); the JSON body."""
    auth = None
    if client.client_secret:
        auth = (client.client_id, client.client_secret)
    else:
        data = {"client_id": client.client_id, **data}
    response = rp.post("/token", data=data, auth=auth, expect=expect)
    check(response.headers.get("Cache-Control") == "no-store", "token response cacheable")
    body: dict[str, Any] = response.json()
    return body


def exchange(
    load: Load, rp: Agent, client: RegisteredClient, code: str, request: AuthorizationRequest
) -> dict[str, Any]:
    tokens = token_request(
        rp,
        client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": request.code_verifier,
        },
    )
    check(
        {"access_token", "id_token", "refresh_token"} <= tokens.keys(),
        f"token response {sorted(tokens)}",
    )
    return tokens


def id_token_claims(
    load: Load, tokens: dict[str, Any], client: RegisteredClient, nonce: str
) -> dict[str, Any]:
    """The ID token's signature against the published JWKS, then iss, aud, nonce, exp."""
    token = jwt.decode(tokens["id_token"], load.keys, algorithms=["RS256", "ES256"])
    claims = dict(token.claims)
    check(claims.get("iss") == load.issuer, f"iss {claims.get('iss')}")
    audience = claims.get("aud")
    check(audience == client.client_id or client.client_id in (audience or []), f"aud {audience}")
    check(claims.get("nonce") == nonce, "nonce")
    check(int(claims.get("exp", 0)) > time.time(), "expired ID token")
    return claims


def refresh(rp: Agent, client: RegisteredClient, refresh_token: str) -> dict[str, Any]:
    tokens = token_request(
        rp, client, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
    check(
        tokens.get("refresh_token") not in (None, refresh_token),
        "the refresh token was not rotated",
    )
    return tokens


def refresh_refused(rp: Agent, client: RegisteredClient, refresh_token: str, why: str) -> None:
    body = token_request(
        rp,
        client,
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        expect=(400,),
    )
    check(body.get("error") == "invalid_grant", f"{why}: {body}")


def userinfo(rp: Agent, access_token: str, subject: str, email: str) -> None:
    response = rp.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    claims = response.json()
    check(claims.get("sub") == subject, f"userinfo sub {claims.get('sub')} != {subject}")
    check(claims.get("email") == email, f"userinfo email {claims.get('email')}")


def sign_out(browser: Agent, id_token: str, client: RegisteredClient) -> None:
    """RP-initiated logout with id_token_hint, a registered post-logout URI and state."""
    state = secrets.token_urlsafe(8)
    params = {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": client.post_logout_redirect_uri,
        "state": state,
    }
    response = follow(browser, browser.get("/logout?" + urlencode(params), expect=REDIRECTS))
    location = response.headers.get("Location", "")
    check(
        location.startswith(client.post_logout_redirect_uri + "?"),
        f"logout ended at {response.url} -> {location!r}",
    )
    check(query_of(location).get("state") == state, "logout state")


def verification_code(email: str) -> str:
    """The code of the verification email sent to ``email`` (the live server runs in this
    process: its emails land in django.core.mail.outbox)."""
    for message in reversed(list(mail.outbox)):
        if message.to == [email]:
            match = CODE_LINE.search(str(message.body))
            check(match is not None, f"no code in the email to {email}")
            assert match is not None
            return match.group(1)
    raise JourneyFailed(f"no verification email to {email}")


# --- journeys ------------------------------------------------------------------------------


def sign_up_journey(load: Load) -> None:
    """A newcomer, from the client's authorization request to signing out."""
    browser = Agent(load.issuer, load.recorder, address=load.addresses.next(), user_agent=BROWSER)
    rp = Agent(load.issuer, load.recorder, address=RP_ADDRESS, user_agent=RP_AGENT)
    try:
        email = f"newcomer-{secrets.token_hex(6)}@example.com"
        password = f"{secrets.token_urlsafe(9)}-Lantern-Orchard"
        web = load.web
        request = authorization_request(web, "openid email offline_access")
        login = follow(browser, browser.get(request.url, expect=REDIRECTS))
        check("/accounts/login/" in login.url, f"authorize ended at {login.url}")
        link = re.search(r'href="(/accounts/signup/[^"]*)"', login.text)
        check(link is not None, "no sign-up link on the sign-in page")
        assert link is not None
        page = browser.get(html.unescape(link.group(1)))
        next_field = re.search(r'name="next" value="([^"]+)"', page.text)
        check(next_field is not None, "the sign-up form lost the authorization request")
        assert next_field is not None
        signed_up = browser.post(
            "/accounts/signup/",
            data={
                "csrfmiddlewaretoken": csrf(page),
                "email": email,
                "password1": password,
                "next": html.unescape(next_field.group(1)),
            },
            headers={"Referer": page.url},
            expect=REDIRECTS,
        )
        confirm = follow(browser, signed_up)
        check("/accounts/confirm-email/" in confirm.url, f"sign-up ended at {confirm.url}")
        confirmed = browser.post(
            "/accounts/confirm-email/",
            data={"csrfmiddlewaretoken": csrf(confirm), "code": verification_code(email)},
            headers={"Referer": confirm.url},
            expect=REDIRECTS,
        )
        params = callback(load, follow(browser, confirmed), request, web)
        check("code" in params, f"no code: {params}")

        tokens = exchange(load, rp, web, params["code"], request)
        claims = id_token_claims(load, tokens, web, request.nonce)
        check(claims.get("email") == email, f"ID token email {claims.get('email')}")
        check(claims.get("email_verified") is True, "email not verified")
        for _ in range(REFRESHES):
            refreshed = refresh(rp, web, tokens["refresh_token"])
            check(refreshed["access_token"] != tokens["access_token"], "same access token")
            tokens = {**tokens, **refreshed}
        userinfo(rp, tokens["access_token"], claims["sub"], email)

        revoked = rp.post(
            "/revoke",
            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
            auth=(web.client_id, web.client_secret),
        )
        check(revoked.content == b"", "revocation answered a body")
        refresh_refused(rp, web, tokens["refresh_token"], "a revoked refresh token")

        sign_out(browser, tokens["id_token"], web)
        silent = authorization_request(web, "openid")
        params = callback(
            load,
            follow(browser, browser.get(silent.url + "&prompt=none", expect=REDIRECTS)),
            silent,
            web,
        )
        check(params.get("error") == "login_required", f"after sign-out: {params}")
        load.recorder.journey("sign-up")
    finally:
        browser.close()
        rp.close()


def sign_in_journey(load: Load, customer: Existing) -> None:
    """An existing customer signs in with the password to the partner's app and out."""
    browser = Agent(load.issuer, load.recorder, address=customer.address, user_agent=BROWSER)
    rp = Agent(load.issuer, load.recorder, address=RP_ADDRESS, user_agent=RP_AGENT)
    try:
        spa = load.spa
        request = authorization_request(spa, "openid email")
        login = follow(browser, browser.get(request.url, expect=REDIRECTS))
        check("/accounts/login/" in login.url, f"authorize ended at {login.url}")
        response = follow(
            browser,
            browser.post(
                login.url,
                data={
                    "csrfmiddlewaretoken": csrf(login),
                    "login": customer.email,
                    "password": customer.password,
                },
                headers={"Referer": login.url},
                expect=REDIRECTS,
            ),
        )
        if response.status_code == 200 and "/consent/" in response.url:
            response = follow(
                browser,
                browser.post(
                    response.url,
                    data={"csrfmiddlewaretoken": csrf(response), "decision": "allow"},
                    headers={"Referer": response.url},
                    expect=REDIRECTS,
                ),
            )
        params = callback(load, response, request, spa)
        check("code" in params, f"no code: {params}")

        tokens = exchange(load, rp, spa, params["code"], request)
        claims = id_token_claims(load, tokens, spa, request.nonce)
        userinfo(rp, tokens["access_token"], claims["sub"], customer.email)
        tokens = {**tokens, **refresh(rp, spa, tokens["refresh_token"])}
        sign_out(browser, tokens["id_token"], spa)
        # Granted without offline_access: the refresh token ends with the session.
        refresh_refused(rp, spa, tokens["refresh_token"], "a refresh token of an ended session")
        load.recorder.journey("sign-in")
    finally:
        browser.close()
        rp.close()


def customer_thread(load: Load, journey: Any, *args: Any) -> None:
    while time.monotonic() < load.deadline:
        try:
            journey(load, *args)
        except JourneyFailed as failure:
            load.recorder.error(f"{journey.__name__}: {failure}")
        except Exception as error:  # a bug of the test itself is an error too
            load.recorder.error(f"{journey.__name__}: {type(error).__name__}: {error}")


def signing_in_thread(load: Load, pool: Any, lock: threading.Lock) -> None:
    def next_customer(load: Load) -> None:
        with lock:
            customer = next(pool)
        sign_in_journey(load, customer)

    next_customer.__name__ = "sign_in_journey"
    customer_thread(load, next_customer)


# --- the test ------------------------------------------------------------------------------


def _register(kind: str, name: str, redirect: str, bye: str, first_party: bool) -> RegisteredClient:
    registered = make_client(
        kind,
        name=name,
        redirect_uris=[redirect],
        post_logout_redirect_uris=[bye],
        first_party=first_party,
    )
    return RegisteredClient(registered.client_id, registered.client_secret or "", redirect, bye)


def _show(request: pytest.FixtureRequest, report: str) -> None:
    """The table where it is seen: var/test-reports/load.txt, the test's report section
    (``-rP``) and its ``terminal_summary`` property (JUnit XML), which the terminal summary
    of tests/conftest.py prints at the end of the run when it names that property
    (TERMINAL_SUMMARY_PROPERTY), from xdist workers too. Without that summary the table is
    written to the terminal here, when pytest runs in this process (an xdist worker has
    none)."""
    from tests import conftest

    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report + "\n")
    request.node.add_report_section("call", "load", report)
    summarized = getattr(conftest, "TERMINAL_SUMMARY_PROPERTY", None)
    request.node.user_properties.append((summarized or "terminal_summary", report))
    config = request.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if summarized or reporter is None or capture is None or hasattr(config, "workerinput"):
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in report.splitlines():
            reporter.write_line(line)


def test_concurrent_customers_sign_up_sign_in_refresh_and_revoke(
    provider, behind_trusted_proxy, request, caplog
):
    """Twelve customers at once for 30 s, newcomers signing up and existing customers
    signing in: every response is one the step expects (no 5xx, no 429), every protocol
    result is right (codes, verified ID tokens, rotated refresh tokens, a revoked or
    session-ended refresh token refused with invalid_grant, login_required after sign-out),
    and both kinds of journeys complete."""
    # The expected 400s (refused refresh tokens) are no news; a 500 is still logged.
    caplog.set_level(logging.ERROR, logger="django.request")
    web = _register("web", "Shop", WEB_REDIRECT, WEB_BYE, first_party=True)
    spa = _register("spa", "Partner app", SPA_REDIRECT, SPA_BYE, first_party=False)
    addresses = Addresses()
    existing = []
    for number in range(EXISTING_CUSTOMERS):
        password = f"{secrets.token_urlsafe(9)}-Copper-Meadow"
        user = UserFactory(email=f"customer{number}@example.com", password=password)
        existing.append(Existing(user.email, password, addresses.next()))
    recorder = Recorder()
    setup = Agent(provider, recorder, address=RP_ADDRESS, user_agent=RP_AGENT)
    discovery = setup.get("/.well-known/openid-configuration").json()
    assert discovery["issuer"] == provider
    keys = KeySet.import_key_set(setup.get("/jwks").json())
    setup.close()

    started = time.monotonic()
    load = Load(provider, recorder, keys, web, spa, addresses, started + LOAD_SECONDS)
    pool, pool_lock = itertools.cycle(existing), threading.Lock()
    threads = [
        threading.Thread(target=customer_thread, args=(load, sign_up_journey), daemon=True)
        for _ in range(SIGNING_UP)
    ] + [
        threading.Thread(target=signing_in_thread, args=(load, pool, pool_lock), daemon=True)
        for _ in range(SIGNING_IN)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, started + LOAD_SECONDS + 60 - time.monotonic()))
    seconds = time.monotonic() - started
    stuck = sum(thread.is_alive() for thread in threads)

    heading = (
        f"Load on {connection.vendor}: {SIGNING_UP} customers signing up and {SIGNING_IN} "
        f"signing in at once for {seconds:.1f} s, {len(recorder.samples)} responses"
        + (" (SQLite: one request at a time)" if connection.vendor == "sqlite" else "")
    )
    report = report_table(recorder, seconds=seconds, heading=heading)
    _show(request, report)

    assert stuck == 0, f"{stuck} customer threads still running\n{report}"
    server_errors = [sample for sample in recorder.samples if sample.status >= 500]
    assert not server_errors, report
    assert recorder.errors == [], report
    # The provider saw each customer at the address the proxy forwarded, not the loopback.
    benchmarking = ipaddress.ip_network("198.18.0.0/15")
    seen = set(BrowserSession.objects.values_list("ip", flat=True))
    assert seen, "no browser session recorded"
    assert all(ip and ipaddress.ip_address(ip) in benchmarking for ip in seen), seen
    assert recorder.journeys["sign-up"] >= SIGNING_UP, report
    assert recorder.journeys["sign-in"] >= SIGNING_IN, report
