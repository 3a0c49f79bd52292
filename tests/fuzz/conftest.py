"""Fixtures of the fuzz suite: the provider behind its WSGI router, test clients, a
signed-in browser and tokens, and the count of generated requests.

Each fuzz test gets a fresh ``World`` (the database is emptied between tests,
``transactional_db``: every request commits as in production, on SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, Phase, seed, settings

from tests.factories import PASSWORD, UserFactory, make_client

from .harness import Browser, Provider, Reply

# Reproducible: the examples follow from each test's source (derandomize), unless
# CIAM_FUZZ_SEED=<number> asks for other ones (to explore; a failure then names its seed).
SEED = os.environ.get("CIAM_FUZZ_SEED", "")
# No shrinking: a failure's message already names the request and its traceback, and
# shrinking requests that each cost milliseconds takes minutes.
_COMMON = {
    "deadline": None,
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
    "database": None,
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
}
settings.register_profile("fuzz", derandomize=not SEED, **_COMMON)

FUZZ = settings.get_profile("fuzz")

# Examples of each fuzz test. Each example sends one request or more, so these are also the
# least number of requests each test makes (``requests_made`` checks it): 10,200 in all,
# about 2 minutes of CPU (20 to 40 examples a second per test).
EXAMPLES = {
    "test_authorization_endpoint": 700,
    "test_step_pages_with_unknown_pending_requests": 400,
    "test_token_endpoint": 900,
    "test_userinfo_introspection_revocation": 700,
    "test_end_session": 600,
    "test_hosted_forms": 1200,
    "test_hosted_forms_encodings": 600,
    "test_forms_without_a_valid_csrf_token": 400,
    "test_json_apis": 1500,
    "test_json_apis_authorization": 700,
    "test_every_route": 1500,
    "test_request_envelope": 1000,
}


def budget(test: Callable[..., Any]) -> Callable[..., Any]:
    """The fuzz settings with the test's number of examples (``EXAMPLES``)."""
    configured = settings(FUZZ, max_examples=EXAMPLES[test.__name__])(test)
    return seed(int(SEED))(configured) if SEED else configured


REDIRECT_URI = "https://rp.example.test/callback"
POST_LOGOUT_REDIRECT_URI = "https://rp.example.test/bye"
SPA_REDIRECT_URI = "http://localhost:5173/callback"
FORM = "application/x-www-form-urlencoded"
MACHINE_SCOPES = (
    "consent:read consent:write profile:read profile:write events:write "
    "personalization:read ssf:manage"
)
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# Log records of refused requests (thousands of 4xx) would cost more than the requests;
# server errors are caught from Django's got_request_exception signal instead.
QUIET_LOGGERS = ("django.request", "django.security", "django.server", "oauth2_provider")


@dataclass
class RegisteredClient:
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass
class World:
    """Everything a fuzz test needs, created through the provider's own endpoints."""

    provider: Provider
    web: RegisteredClient
    partner: RegisteredClient
    spa: RegisteredClient
    service: RegisteredClient
    email: str
    password: str
    signed_in: Browser
    anonymous: Browser
    access_token: str = ""
    refresh_token: str = ""
    id_token: str = ""
    machine_token: str = ""
    subject: str = ""
    csrf: dict[int, str] = field(default_factory=dict)
    strategies: dict[str, Any] = field(default_factory=dict)

    def strategy(self, name: str, build: Callable[[], Any]) -> Any:
        """The strategy ``name``, built once per world (building one per example would cost
        more than the request it draws)."""
        if name not in self.strategies:
            self.strategies[name] = build()
        return self.strategies[name]

    def csrf_token(self, browser: Browser) -> str:
        """A CSRF form token matching ``browser``'s cookie (fetched once per browser)."""
        key = id(browser)
        if key not in self.csrf:
            reply = self.provider.send("GET", "/accounts/login/", browser=browser)
            match = CSRF_FIELD.search(reply.text)
            if match is None:  # a signed-in browser is sent on from the sign-in page
                reply = self.provider.send("GET", "/account/security/", browser=browser)
                match = CSRF_FIELD.search(reply.text)
            assert match, (reply.status, reply.header("Location"))
            self.csrf[key] = match.group(1)
        return self.csrf[key]

    def form_post(
        self,
        path: str,
        fields: list[tuple[str, str]],
        *,
        browser: Browser,
        content_type: str = FORM,
        check: bool = True,
    ) -> Reply:
        """POST a hosted form with the browser's CSRF token (first field) and Referer."""
        body = urlencode([("csrfmiddlewaretoken", self.csrf_token(browser)), *fields])
        return self.provider.send(
            "POST",
            path.encode("utf-8", "surrogatepass"),
            body=body.encode(),
            content_type=content_type,
            headers={"Referer": self.provider.issuer + path},
            browser=browser,
            check=check,
        )


def _token(provider: Provider, client: RegisteredClient, fields: dict[str, str]) -> dict:
    import base64

    credentials = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode())
    reply = provider.send(
        "POST",
        "/token",
        body=urlencode(fields).encode(),
        content_type=FORM,
        headers={"Authorization": "Basic " + credentials.decode()},
    )
    assert reply.status == 200, reply.text
    return reply.json()


def world_build() -> World:
    web = make_client(
        "web",
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=[POST_LOGOUT_REDIRECT_URI],
        first_party=True,
    )
    partner = make_client(
        "web",
        name="Partner Shop",
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=[POST_LOGOUT_REDIRECT_URI],
    )
    spa = make_client("spa", redirect_uris=[SPA_REDIRECT_URI], first_party=True)
    service = make_client("service", name="CRM")
    user = UserFactory()
    provider = Provider(redirect_uris=[REDIRECT_URI, POST_LOGOUT_REDIRECT_URI, SPA_REDIRECT_URI])
    world = World(
        provider=provider,
        web=RegisteredClient(web.client_id, web.client_secret, REDIRECT_URI),
        partner=RegisteredClient(partner.client_id, partner.client_secret, REDIRECT_URI),
        spa=RegisteredClient(spa.client_id, "", SPA_REDIRECT_URI),
        service=RegisteredClient(service.client_id, service.client_secret, ""),
        email=user.email,
        password=PASSWORD,
        signed_in=Browser(),
        anonymous=Browser(),
        subject=str(user.public_id),
    )
    reply = world.form_post(
        "/accounts/login/",
        [("login", world.email), ("password", PASSWORD)],
        browser=world.signed_in,
    )
    assert reply.status in (302, 303), (reply.status, reply.text[:300])
    world.csrf.pop(id(world.signed_in))  # a sign-in rotates the CSRF secret
    query = urlencode(
        {
            "response_type": "code",
            "client_id": world.web.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile email phone address offline_access consents interests",
            "state": "fuzz",
            "nonce": "fuzz",
        }
    )
    reply = provider.send("GET", "/authorize", query=query, browser=world.signed_in)
    location = reply.header("Location") or ""
    assert location.startswith(REDIRECT_URI), (reply.status, location, reply.text[:300])
    code = parse_qs(urlsplit(location).query)["code"][0]
    tokens = _token(
        provider,
        world.web,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
    )
    world.access_token = tokens["access_token"]
    world.refresh_token = tokens.get("refresh_token", "")
    world.id_token = tokens["id_token"]
    world.machine_token = _token(
        provider, world.service, {"grant_type": "client_credentials", "scope": MACHINE_SCOPES}
    )["access_token"]
    return world


@pytest.fixture
def world(transactional_db) -> Iterator[World]:
    import ciam.wsgi  # noqa: F401 - its django.setup() configures logging again: first

    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cache.clear()
    try:
        yield world_build()
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def requests_made(request, world: World, record_property) -> Iterator[None]:
    """Checks at the end of a fuzz test that it made at least one request per example
    (``EXAMPLES``), and records how many (``fuzz_requests`` in the JUnit report)."""
    before = world.provider.count
    yield
    made = world.provider.count - before
    if os.environ.get("CIAM_FUZZ_OUTCOMES"):  # what the inputs reached, with -s
        print(sorted(world.provider.outcomes.items()))
    record_property("fuzz_requests", made)
    expected = EXAMPLES[request.node.originalname]
    assert made >= expected, f"{made} requests made, {expected} expected"


_totals: dict[str, int] = {}


def pytest_runtest_logreport(report) -> None:
    # The property is recorded by the fixture's teardown, so it rides on that report.
    if report.when == "teardown":
        for name, value in report.user_properties:
            if name == "fuzz_requests":
                _totals[report.nodeid] = int(value)


def pytest_terminal_summary(terminalreporter) -> None:
    if _totals:
        terminalreporter.write_line(
            f"fuzz: {sum(_totals.values())} generated requests in {len(_totals)} tests"
        )
