"""Database statements and in-process cost per operation, and the Argon2id hash time (JSON).

Run by ``benchmarks/run`` with the environment of the server under test (same settings, same
database, clients and user already created); the client ids and secrets come as JSON in
argv[1]. Each operation runs once to warm the process's caches (signing keys, sites, content
types), then once inside Django's ``CaptureQueriesContext``: the statements counted are exactly
those of that one operation, in order, on the configured database. With ``iterations``, each
operation is also timed in this one thread (CPU and wall time). Browser steps go through
Django's test client (every middleware, cookies kept); token and API calls through
``ciam.wsgi.application``, the callable the application server runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import statistics
import sys
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.hashers import Argon2idPasswordHasher  # noqa: E402
from ciam.wsgi import application  # noqa: E402

# A statement that writes: INSERT/UPDATE/DELETE, or a WITH whose parts do (the refresh
# rotation's one statement on PostgreSQL).
WRITE = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE)\b|^\s*WITH\b.*\b(INSERT|UPDATE|DELETE)\b",
    re.IGNORECASE | re.DOTALL,
)
KIND = re.compile(r"^\s*(\w+)")


DATA = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}


def summarize(queries: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of one operation's statements.

    ``queries``: SELECT/INSERT/UPDATE/DELETE; ``writes``: INSERT/UPDATE/DELETE;
    ``round_trips``: every statement sent, BEGIN, COMMIT and savepoints included (each waits
    for the server); ``commits``: transactions committed (autocommit writes count one each:
    on a durable server each is a WAL flush).
    """
    kinds: dict[str, int] = {}
    for query in queries:
        match = KIND.match(query["sql"])
        kind = match.group(1).upper() if match else "?"
        kinds[kind] = kinds.get(kind, 0) + 1
    commits = 0
    in_transaction = False
    for query in queries:
        sql = query["sql"].lstrip().upper()
        if sql.startswith("BEGIN"):
            in_transaction = True
        elif sql.startswith("COMMIT"):
            in_transaction = False
            commits += 1
        elif WRITE.match(sql) and not in_transaction:
            commits += 1
    return {
        "queries": sum(count for kind, count in kinds.items() if kind in DATA),
        "writes": sum(1 for q in queries if WRITE.match(q["sql"])),
        "round_trips": len(queries),
        "commits": commits,
        "by_kind": kinds,
        "statements": [q["sql"][:300] for q in queries],
    }


class WsgiResponse:
    """What the operations read of an answer: status, headers and body."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.content = body

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def json(self) -> Any:
        return json.loads(self.content)


class ProductionClient:
    """Token and API calls through ``ciam.wsgi.application``, the WSGI callable granian
    serves (the back-channel router, its lean path included), without HTTP."""

    def __init__(self, host: str) -> None:
        self.factory = RequestFactory(HTTP_HOST=host)

    def _call(self, request) -> WsgiResponse:
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            answer.update(status=status, headers=headers)

        chunks = application(request.environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return WsgiResponse(answer["status"], answer["headers"], body)

    def get(self, path: str, **extra: str) -> WsgiResponse:
        return self._call(self.factory.get(path, **extra))

    def post(self, path: str, data: str, content_type: str, **extra: str) -> WsgiResponse:
        return self._call(self.factory.post(path, data, content_type=content_type, **extra))


class Flow:
    def __init__(self, config: dict[str, Any]) -> None:
        issuer = urlsplit(settings.CIAM_ISSUER)
        self.host = issuer.netloc
        self.config = config
        web = config["web"]
        self.web_basic = (
            "Basic "
            + base64.b64encode(f"{web['client_id']}:{web['client_secret']}".encode()).decode()
        )
        self.service_basic = self.basic(config["service"])
        # A service with RFC 9068 JWT access tokens (none configured: the same service).
        self.service_jwt_basic = self.basic(config.get("service_jwt") or config["service"])

    @staticmethod
    def basic(client: dict[str, str]) -> str:
        pair = f"{client['client_id']}:{client['client_secret']}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def client(self) -> ProductionClient:
        """Token and API calls: no cookies, the production entry point."""
        if not hasattr(self, "_api"):
            self._api = ProductionClient(self.host)
        return self._api

    def browser(self) -> Client:
        """A client with no cookies: a new browser (on the same handler)."""
        if not hasattr(self, "_browser"):
            self._browser = Client(HTTP_HOST=self.host)
        self._browser.cookies = SimpleCookie()
        return self._browser

    def authorize_params(self, scope: str) -> tuple[dict[str, str], str]:
        verifier = secrets.token_urlsafe(32)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        params = {
            "response_type": "code",
            "client_id": self.config["web"]["client_id"],
            "redirect_uri": self.config["web"]["redirect_uri"],
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return params, verifier

    def sign_in_steps(
        self, scope: str = "openid profile email", *, capture: bool = True
    ) -> dict[str, dict[str, Any]]:
        """The whole code flow with a password, one capture per HTTP request (``capture``
        False: timed only, since capturing formats every statement, a cost of its own)."""
        browser = self.browser()
        steps: dict[str, dict[str, Any]] = {}

        def step(name: str, call):
            wall, cpu = time.perf_counter(), time.process_time()
            if capture:
                with CaptureQueriesContext(connection) as captured:
                    response = call()
                counts = summarize(captured.captured_queries)
            else:
                response = call()
                counts = {}
            steps[name] = {
                **counts,
                "cpu_ms": (time.process_time() - cpu) * 1000,
                "wall_ms": (time.perf_counter() - wall) * 1000,
            }
            return response

        params, verifier = self.authorize_params(scope)
        response = step("authorize", lambda: browser.get("/authorize?" + urlencode(params)))
        login_url = response["Location"]
        page = step("sign-in page", lambda: browser.get(login_url))
        token = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()
        ).group(1)
        response = step(
            "sign-in POST",
            lambda: browser.post(
                login_url,
                {
                    "csrfmiddlewaretoken": token,
                    "login": self.config["user"]["email"],
                    "password": self.config["user"]["password"],
                },
            ),
        )
        hops = 0
        while not response["Location"].startswith(self.config["web"]["redirect_uri"]):
            location = response["Location"]
            response = step(f"redirect {hops + 1} (resume)", lambda url=location: browser.get(url))
            hops += 1
            assert response.status_code in (302, 303), response.status_code
        code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
        response = step(
            "token (code)",
            lambda: self.client().post(
                "/token",
                urlencode(
                    {
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": self.config["web"]["redirect_uri"],
                        "code_verifier": verifier,
                    }
                ),
                content_type="application/x-www-form-urlencoded",
                HTTP_AUTHORIZATION=self.web_basic,
            ),
        )
        assert response.status_code == 200, response.content
        self.tokens = response.json()
        access = self.tokens["access_token"]
        response = step(
            "userinfo",
            lambda: self.client().get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {access}"),
        )
        assert response.status_code == 200, response.content
        return steps

    def token_post(self, body: dict[str, str], basic: str):
        return self.client().post(
            "/token",
            urlencode(body),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic,
        )

    def operations(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        # Warm-up: one of everything (keyring load, sites, content types, templates).
        self.sign_in_steps("openid profile email offline_access")
        self.token_post({"grant_type": "client_credentials"}, self.service_basic)

        steps = self.sign_in_steps("openid profile email offline_access")
        results["sign_in"] = {
            "steps": steps,
            **{
                key: sum(s[key] for s in steps.values())
                for key in ("queries", "writes", "round_trips", "commits")
            },
        }
        access = self.tokens["access_token"]
        refresh = self.tokens["refresh_token"]

        def capture(name: str, call, expect: int = 200) -> None:
            with CaptureQueriesContext(connection) as captured:
                response = call()
            assert response.status_code == expect, (name, response.status_code, response.content)
            results[name] = summarize(captured.captured_queries)

        capture("discovery", lambda: self.client().get("/.well-known/openid-configuration"))
        capture("jwks", lambda: self.client().get("/jwks"))
        capture(
            "client_credentials",
            lambda: self.token_post({"grant_type": "client_credentials"}, self.service_basic),
        )
        capture(
            "client_credentials_jwt",
            lambda: self.token_post({"grant_type": "client_credentials"}, self.service_jwt_basic),
        )
        capture(
            "introspection",
            lambda: self.client().post(
                "/introspect",
                urlencode({"token": access, "token_type_hint": "access_token"}),
                content_type="application/x-www-form-urlencoded",
                HTTP_AUTHORIZATION=self.web_basic,
            ),
        )
        capture(
            "userinfo",
            lambda: self.client().get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {access}"),
        )
        capture(
            "refresh",
            lambda: self.token_post(
                {"grant_type": "refresh_token", "refresh_token": refresh}, self.web_basic
            ),
        )
        return results


def in_process_costs(flow: Flow, iterations: int) -> dict[str, dict[str, float]]:
    """Milliseconds per operation in this one thread (no HTTP, no concurrency): CPU time of
    this process and wall time, which adds the database's answers.
    """
    # Two authorizations: rotating a refresh token revokes the access token issued with it.
    flow.sign_in_steps("openid profile email offline_access")
    chain = {"refresh_token": flow.tokens["refresh_token"]}
    flow.sign_in_steps("openid profile email offline_access")
    access = flow.tokens["access_token"]

    def refresh():
        response = flow.token_post(
            {"grant_type": "refresh_token", "refresh_token": chain["refresh_token"]},
            flow.web_basic,
        )
        chain["refresh_token"] = response.json()["refresh_token"]
        return response

    operations = {
        "discovery": lambda: flow.client().get("/.well-known/openid-configuration"),
        "jwks": lambda: flow.client().get("/jwks"),
        "client_credentials": lambda: flow.token_post(
            {"grant_type": "client_credentials"}, flow.service_basic
        ),
        "client_credentials_jwt": lambda: flow.token_post(
            {"grant_type": "client_credentials"}, flow.service_jwt_basic
        ),
        "refresh": refresh,
        "introspection": lambda: flow.client().post(
            "/introspect",
            urlencode({"token": access, "token_type_hint": "access_token"}),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=flow.web_basic,
        ),
        "userinfo": lambda: flow.client().get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {access}"),
    }
    costs = {}
    flows = [flow.sign_in_steps(capture=False) for _ in range(max(3, iterations // 10))]
    for name in flows[0]:
        costs[f"sign_in: {name}"] = {
            key: statistics.mean(steps[name][key] for steps in flows)
            for key in ("cpu_ms", "wall_ms")
        }
    costs["sign_in"] = {
        key: sum(costs[f"sign_in: {name}"][key] for name in flows[0])
        for key in ("cpu_ms", "wall_ms")
    }
    for name, call in operations.items():
        for _ in range(max(3, iterations // 10)):
            assert call().status_code == 200, name
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(iterations):
            call()
        costs[name] = {
            "cpu_ms": (time.process_time() - cpu) * 1000 / iterations,
            "wall_ms": (time.perf_counter() - wall) * 1000 / iterations,
        }
    return costs


def hash_time(samples: int) -> dict[str, Any]:
    """CPU time of one Argon2id verification, and the rate with one thread per core."""
    hasher = Argon2idPasswordHasher()
    encoded = hasher.encode("Correct-Horse-Battery-9", hasher.salt())
    hasher.verify("Correct-Horse-Battery-9", encoded)  # warm-up
    times, cpu_times = [], []
    for _ in range(samples):
        start, cpu_start = time.perf_counter(), time.thread_time()
        hasher.verify("Correct-Horse-Battery-9", encoded)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.thread_time() - cpu_start)
    cores = os.cpu_count() or 1

    def worker() -> None:
        for _ in range(samples):
            hasher.verify("Correct-Horse-Battery-9", encoded)

    threads = [threading.Thread(target=worker) for _ in range(cores)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    parallel_rate = cores * samples / (time.perf_counter() - start)
    # The limit counts CPU time: wall time also holds waits for a core that other work took.
    seconds = statistics.median(cpu_times)
    return {
        "hasher": "accounts.hashers.Argon2idPasswordHasher",
        "parameters": {
            "memory_kib": hasher.memory_cost,
            "time_cost": hasher.time_cost,
            "parallelism": hasher.parallelism,
        },
        "median_ms": seconds * 1000,
        "median_wall_ms": statistics.median(times) * 1000,
        "cores": cores,
        "limit_per_second": cores / seconds,
        "measured_parallel_per_second": parallel_rate,
    }


def main() -> None:
    config = json.loads(sys.argv[1])
    output: dict[str, Any] = {"database": connection.vendor}
    flow = Flow(config)
    if config.get("queries", True):
        output["operations"] = flow.operations()
    if config.get("iterations"):
        output["in_process"] = in_process_costs(flow, config["iterations"])
    if config.get("hash_samples"):
        output["hash"] = hash_time(config["hash_samples"])
    json.dump(output, sys.stdout)


if __name__ == "__main__":
    main()
