"""Two app nodes behind one issuer, as production runs them on two hosts: each a granian
WSGI process (deploy/serve) on its own port, with the live monitor's ASGI process
(deploy/serve --asgi) beside node B, all on one PostgreSQL database and one Redis (cache and
channel layer). Whatever one node does, the other sees: sessions, sign-outs, sign-in
limits, live events and signing keys.

Bound: the nodes start in under 60 s; each test waits at most 20 s for what it checks
(about 40 s for the module on 2 cores).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from .clients import Visitor, jwt_header, monitor_socket, receive_event, redeem, token_request
from .conftest import Template, copied_database
from .servers import ISSUER, Node, RedisServer, manage, node_environment, wait_until

pytestmark = pytest.mark.long

RELOAD_SECONDS = 2
FREE_FAILURES = 3
BACKOFF_SECONDS = 60


@dataclass
class Pair:
    a: Node
    b: Node
    monitor_b: Node
    redis: RedisServer
    env: dict[str, str]
    seed: dict[str, Any]
    secret_key: str

    def customer(self, number: int) -> str:
        return self.seed["customers"][number]

    @property
    def password(self) -> str:
        return self.seed["password"]


@pytest.fixture(scope="module")
def pair(long_template: Template, tmp_path_factory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("pair")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(copied_database(long_template))
        redis = RedisServer(root / "redis").start()
        stack.callback(redis.stop)
        settings = {
            "CIAM_KEYS_RELOAD_SECONDS": str(RELOAD_SECONDS),
            "CIAM_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS": str(FREE_FAILURES),
            "CIAM_SIGNIN_BACKOFF_SECONDS": str(BACKOFF_SECONDS),
        }

        def env(name: str) -> dict[str, str]:
            return node_environment(
                database_url=url,
                secret_key=long_template.secret_key,
                var_dir=root / name,
                redis_url=redis.url,
                **settings,
            )

        nodes = [
            Node("node-a", env("a")),
            Node("node-b", env("b")),
            Node("monitor-b", env("b"), asgi=True),
        ]
        for node in nodes:
            stack.callback(node.stop)
            node.launch()
        for node in nodes:
            node.ready()
        yield Pair(*nodes, redis, env("a"), long_template.seed, long_template.secret_key)
        for node in nodes:
            print(f"--- {node.name} ---")
            print(node.log.read_text(errors="replace")[-3000:])


def test_a_session_started_on_one_node_is_valid_on_the_other(pair):
    """Signed in through node A's password page, the browser is signed in on node B: its
    account page shows, an authorization on B needs no password, and B's code is redeemed
    at A's token endpoint (and the refresh token at B's) for tokens issued by the one
    issuer."""
    email = pair.customer(0)
    browser = Visitor(pair.a.url)
    signed_in = browser.sign_in(email, pair.password)
    assert signed_in.status_code == 302, signed_in.text[-500:]

    account = browser.at(pair.b.url).get("/accounts/email/")
    assert account.status_code == 200, (account.status_code, account.headers.get("Location"))
    assert email in account.text

    answer = browser.authorize(pair.seed["web"])  # on B, no sign-in form
    assert answer["iss"] == ISSUER
    tokens = redeem(pair.a.url, pair.seed["web"], answer["code"])
    assert tokens.status_code == 200, tokens.text
    refreshed = token_request(
        pair.b.url,
        pair.seed["web"],
        grant_type="refresh_token",
        refresh_token=tokens.json()["refresh_token"],
    )
    assert refreshed.status_code == 200, refreshed.text
    userinfo = requests.get(
        pair.a.url + "/userinfo",
        headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["email"] == email


def test_signing_out_on_one_node_ends_the_session_on_the_other(pair):
    """A sign-out posted to node B ends the session node A started: A's account page sends
    the browser to the sign-in page again."""
    browser = Visitor(pair.a.url)
    assert browser.sign_in(pair.customer(1), pair.password).status_code == 302
    assert browser.get("/accounts/email/").status_code == 200

    signed_out = browser.at(pair.b.url).sign_out()
    assert signed_out.status_code in (200, 302), signed_out.status_code

    account = browser.at(pair.a.url).get("/accounts/email/")
    assert account.status_code == 302, account.status_code
    assert "/accounts/login/" in account.headers["Location"]


def test_wrong_passwords_on_one_node_count_on_the_other(pair):
    """The sign-in limits live in the shared Redis: the wrong passwords sent to node A
    start a back-off that node B enforces (429 with Retry-After, nothing checked: even the
    right password waits)."""
    email = pair.customer(2)
    browser = Visitor(pair.a.url)
    for attempt in range(FREE_FAILURES + 1):
        answer = browser.sign_in(email, "not-the-password-1")
        assert answer.status_code == 200, (attempt, answer.status_code)

    refused = Visitor(pair.b.url).sign_in(email, pair.password)
    assert refused.status_code == 429, refused.status_code
    assert BACKOFF_SECONDS - 10 <= int(refused.headers["Retry-After"]) <= BACKOFF_SECONDS
    assert "Too many failed login attempts" in refused.text


def test_a_sign_in_on_one_node_reaches_the_monitor_of_the_other(pair):
    """The live monitor's socket on node B's ASGI process shows a password sign-in made on
    node A within seconds (the Redis channel layer carries it between the processes)."""
    operator = pair.seed["operator"]
    with monitor_socket(pair.monitor_b.ws_url, operator=operator, secret_key=pair.secret_key) as ws:
        assert Visitor(pair.a.url).sign_in(pair.customer(3), pair.password).status_code == 302
        event = receive_event(ws, "user.signed_in", timeout=15)
    assert event["method"] == "password"
    assert len(event["subject"]) == 8


def _published_kids(node: Node) -> set[str]:
    keys = requests.get(node.url + "/jwks", timeout=10).json()["keys"]
    return {key["kid"] for key in keys if key["alg"] == "RS256"}


def test_a_key_rotated_on_one_node_is_published_and_used_by_both(pair):
    """``manage.py rotate_signing_key`` (run beside node A) adds a key both nodes publish
    within the reload interval, and both sign ID tokens with it once it is active (two
    intervals later); the old key stays published."""
    before = _published_kids(pair.a)
    assert before == _published_kids(pair.b)
    manage(pair.env, "rotate_signing_key")
    rotated_at = time.monotonic()

    def both_publish_a_new_key() -> set[str]:
        new_a, new_b = _published_kids(pair.a) - before, _published_kids(pair.b) - before
        return new_a if new_a and new_a == new_b else set()

    new = wait_until(both_publish_a_new_key, timeout=RELOAD_SECONDS + 5)
    assert len(new) == 1
    assert before <= _published_kids(pair.a)
    # Active from two intervals after the rotation (timed from the command's end: later).
    time.sleep(max(0.0, rotated_at + 2 * RELOAD_SECONDS + 0.5 - time.monotonic()))

    for number, node in enumerate((pair.a, pair.b), start=4):
        browser = Visitor(node.url)
        answer = browser.authorize(
            pair.seed["web"], email=pair.customer(number), password=pair.password
        )
        tokens = redeem(node.url, pair.seed["web"], answer["code"])
        assert tokens.status_code == 200, tokens.text
        assert {jwt_header(tokens.json()["id_token"])["kid"]} == new, node.name
