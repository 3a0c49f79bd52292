"""Shared fixtures: a live provider, users, clients, and a browser-like HTTP session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.conf import settings

from .browser.fixtures import chromium, open_tab, tab  # noqa: F401 - one Playwright per process
from .factories import PASSWORD, UserFactory, make_client


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the tests marked long (faults, fuzzing, several nodes, load)",
    )


def pytest_collection_modifyitems(config, items) -> None:
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="a long test: run with --long (./dev test --long)")
    for item in items:
        if item.get_closest_marker("long") is not None:
            item.add_marker(skip)


# The user property whose value the terminal summary prints after the run (the load test's
# table, tests/load), also when the test ran on an xdist worker.
TERMINAL_SUMMARY_PROPERTY = "terminal_summary"


def pytest_terminal_summary(terminalreporter) -> None:
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == TERMINAL_SUMMARY_PROPERTY:
                    terminalreporter.write_sep("-", report.nodeid)
                    terminalreporter.write_line(str(value))


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with empty rate-limit counters (they live in the cache) and reads
    the signing keys, clients and risk rules afresh (the database is emptied between
    tests)."""
    from django.core.cache import cache

    import ciam.keys
    import ciam.oauth.client_cache
    import sessions_ctx.risk.policy

    cache.clear()
    ciam.keys._keyring = None
    ciam.oauth.client_cache.application_cache_forget()
    sessions_ctx.risk.policy.policy_rules_forget()


@pytest.fixture
def issuer(live_server) -> str:
    """Base URL of the running provider; equals the ``iss`` of its tokens."""
    assert live_server.url.rstrip("/") == settings.CIAM_ISSUER, (
        live_server.url,
        settings.CIAM_ISSUER,
    )
    return settings.CIAM_ISSUER


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def password() -> str:
    return PASSWORD


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str


@pytest.fixture
def rp_redirect_uri() -> str:
    return "https://rp.example.test/callback"


@pytest.fixture
def web_client(db, rp_redirect_uri) -> Client:
    """A confidential, first-party web client (no consent screen)."""
    registered = make_client(
        "web",
        redirect_uris=[rp_redirect_uri],
        post_logout_redirect_uris=["https://rp.example.test/bye"],
        first_party=True,
    )
    return Client(
        registered.client_id,
        registered.client_secret,
        rp_redirect_uri,
        "https://rp.example.test/bye",
    )


@pytest.fixture
def third_party_client(db, rp_redirect_uri) -> Client:
    """A confidential third-party client: users are asked for consent."""
    registered = make_client(
        "web",
        name="Partner Shop",
        redirect_uris=[rp_redirect_uri],
        post_logout_redirect_uris=["https://rp.example.test/bye"],
    )
    return Client(
        registered.client_id,
        registered.client_secret,
        rp_redirect_uri,
        "https://rp.example.test/bye",
    )


@pytest.fixture
def spa_client(db) -> Client:
    registered = make_client(
        "spa", redirect_uris=["http://localhost:5173/callback"], first_party=True
    )
    return Client(registered.client_id, "", "http://localhost:5173/callback", "")


class Browser:
    """A cookie-keeping HTTP session that signs in through the hosted login form.

    It never follows redirects to the relying party (which does not exist): ``authorize``
    returns the final redirect URL sent to the client.
    """

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.session = requests.Session()

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.session.get(self._abs(url), allow_redirects=False, timeout=10, **kwargs)

    def post(self, url: str, **kwargs) -> requests.Response:
        return self.session.post(self._abs(url), allow_redirects=False, timeout=10, **kwargs)

    def _abs(self, url: str) -> str:
        return url if url.startswith("http") else self.issuer + url

    def follow_local(self, response: requests.Response) -> requests.Response:
        """Follow redirects while they stay on the provider."""
        while response.status_code in (301, 302, 303) and self._is_local(
            response.headers["Location"]
        ):
            response = self.get(response.headers["Location"])
        return response

    def _is_local(self, url: str) -> bool:
        return url.startswith("/") or url.startswith(self.issuer)

    @staticmethod
    def csrf(html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert match, "no CSRF token in page"
        return match.group(1)

    def login_form(self, page: requests.Response, email: str, password: str) -> requests.Response:
        response = self.post(
            page.url,
            data={
                "csrfmiddlewaretoken": self.csrf(page.text),
                "login": email,
                "password": password,
            },
            headers={"Referer": page.url},
        )
        return self.follow_local(response)

    def authorize(
        self,
        params: dict[str, str],
        *,
        email: str | None = None,
        password: str | None = None,
        consent: str | None = None,
        method: str = "GET",
    ) -> str:
        """Run an authorization request to its end; return the Location sent to the client."""
        if method == "POST":
            response = self.post("/authorize", data=params)
        else:
            response = self.get("/authorize?" + urlencode(params))
        response = self.follow_local(response)
        if response.status_code == 200 and "/accounts/login/" in response.url:
            assert email, "sign-in page shown but no credentials given"
            assert password
            response = self.login_form(response, email, password)
        if response.status_code == 200 and "/consent/" in response.url:
            assert consent, "consent page shown but no decision given"
            response = self.post(
                response.url,
                data={"csrfmiddlewaretoken": self.csrf(response.text), "decision": consent},
                headers={"Referer": response.url},
            )
            response = self.follow_local(response)
        assert response.status_code in (302, 303), (
            response.status_code,
            response.url,
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))[-900:],
        )
        return response.headers["Location"]


def redeem_code(issuer: str, client, code: str) -> dict:
    """Exchange ``code`` at /token (client_secret_basic); the ID token's claims, its
    signature checked against the provider's published JWKS."""
    import json

    from jwcrypto import jwk, jwt

    response = requests.post(
        issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
        },
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    keys = jwk.JWKSet.from_json(requests.get(issuer + "/jwks", timeout=10).text)
    token = jwt.JWT(jwt=response.json()["id_token"], key=keys, expected_type="JWS")
    return json.loads(token.claims)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def browser(issuer) -> Iterator[Browser]:
    b = Browser(issuer)
    yield b
    b.session.close()
