"""What the session context costs a signed-in request, and what risk evaluation costs a sign-in.

In-process, one thread, on a throwaway test database (SQLite in memory with the default
settings) and small MaxMind-format City and ASN databases written for the run
(tests/sessions_ctx/geo_db.py); no server, no network. ``benchmarks/run --sessions`` runs it.

Measured, each after a warm-up, as the median and p95 of many iterations:

- **touch**: ``SessionContextMiddleware`` around a signed-in request whose context is
  unchanged (device cookie, risk state, idle and absolute ends, fingerprint compared, no
  write): the cost every signed-in page pays;
- **page with / without**: a whole signed-in ``GET /`` through Django's test client with the
  middleware and without it, interleaved; the difference of the medians is the cost as a
  page sees it (noisier: other work of the request moves it too);
- **context change**: the middleware when the fingerprint changed (another network):
  context parsed, GeoIP lookups (their cache emptied before each iteration), the user's
  history read, assessors and policy, the decision stored;
- **new user agent**: the same with a user agent never parsed before (ua-parser's rules);
- **sign-in: assess + policy**: the assessors and the default policy's rules and action for
  a sign-in with findings (Tokyo after Lisboa);
- **sign-in: risk_evaluate_sign_in**: the same plus the history queries and the decision
  stored, as ``session_start`` calls it.

The target is a median under 2 ms for the per-request rows (touch and context change); each
gets its PASS/FAIL line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
# The source static files (no collectstatic in a fresh clone), as the tests serve them.
os.environ.setdefault("CIAM_STATIC_MANIFEST", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402

TARGET_MS = 2.0
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
MIDDLEWARE = "sessions_ctx.middleware.SessionContextMiddleware"
# The rows the per-request target applies to: every signed-in page (touch), and a page whose
# network or user agent changed (context change).
PER_REQUEST_ROWS = ("touch", "context change")


def _ms(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) / 1e6, p95 / 1e6


def _timed(
    run: Callable[[Any], object], prepare: Callable[[int], Any], iterations: int, warmup: int
) -> list[int]:
    """Nanoseconds of ``run(prepare(i))`` for each iteration; ``prepare`` is not timed."""
    samples = []
    for i in range(warmup + iterations):
        argument = prepare(i)
        start = time.perf_counter_ns()
        run(argument)
        elapsed = time.perf_counter_ns() - start
        if i >= warmup:
            samples.append(elapsed)
    return samples


class Bench:
    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.rows: list[tuple[str, float, float, int]] = []

    def row(self, name: str, samples: list[int]) -> tuple[float, float]:
        median, p95 = _ms(samples)
        self.rows.append((name, median, p95, len(samples)))
        return median, p95


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=1000, help="per row (default 1000)")
    args = parser.parse_args(argv)
    iterations = max(20, args.iterations)

    from tests.sessions_ctx.geo_db import LISBOA, LISBOA_V6, TOKYO, geo_databases_write

    setup_test_environment()
    settings.DEBUG = False  # no query log
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    workdir = Path(tempfile.mkdtemp(prefix="ciam-sessions-bench-"))
    files = geo_databases_write(workdir)
    try:
        with override_settings(
            CIAM_SESSIONS_GEOIP_CITY_DATABASE=str(files.city),
            CIAM_SESSIONS_GEOIP_ASN_DATABASE=str(files.asn),
        ):
            bench = run(Bench(iterations), lisboa=LISBOA, lisboa_v6=LISBOA_V6, tokyo=TOKYO)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print_table(bench)
    return 0


def run(bench: Bench, *, lisboa: Any, lisboa_v6: Any, tokyo: Any) -> Bench:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.services.users import user_create
    from sessions_ctx.constants import SESSION_KEY_CONTEXT
    from sessions_ctx.context import browser_of, request_context
    from sessions_ctx.geo import geo_lookup, geo_readers_reset
    from sessions_ctx.middleware import SessionContextMiddleware
    from sessions_ctx.models import BrowserSession
    from sessions_ctx.risk.history import user_history
    from sessions_ctx.risk.policy import action_for, policy_rules
    from sessions_ctx.services.risk import assess, risk_evaluate_sign_in

    geo_readers_reset()
    n = bench.iterations
    password = "bench-" + os.urandom(12).hex()
    created = user_create(email="bench@example.com", password=password, validate=False)
    user = get_user_model().objects.get(pk=created.pk)

    # An earlier sign-in two days ago from another Lisbon network, then this browser: the
    # engine has a history to compare with (a new network and provider, allowed).
    earlier = Client(REMOTE_ADDR=lisboa_v6.ip, HTTP_USER_AGENT=CHROME)
    assert (
        earlier.post("/accounts/login/", {"login": user.email, "password": password}).status_code
        == 302
    )
    BrowserSession.objects.filter(user=user).update(
        created_at=BrowserSession.objects.get(user=user).created_at - timedelta(days=2)
    )
    client = Client(REMOTE_ADDR=lisboa.ip, HTTP_USER_AGENT=CHROME)
    response = client.post(
        "/accounts/login/", {"login": user.email, "password": password, "remember": "on"}
    )
    assert response.status_code == 302, response
    assert client.get("/").status_code == 200  # signed in, no step-up owed
    key = client.session.session_key
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    factory = RequestFactory()
    context_middleware = SessionContextMiddleware(lambda request: HttpResponse("ok"))

    def middleware(request: HttpRequest) -> None:
        """The middleware, and the session save it causes (SessionMiddleware saves a
        modified session after the response)."""
        context_middleware(request)
        if request.session.modified:
            request.session.save()

    def signed_in_request(
        *, ip: str = lisboa.ip, user_agent: str = CHROME, stale: bool = False
    ) -> HttpRequest:
        """A request as the middleware sees it: session loaded, user known (the session and
        authentication middleware ran before, outside the measure)."""
        request = factory.get("/", REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)
        request.COOKIES = dict(cookies)
        session = SessionStore(session_key=key)
        session._session_cache = session.load()
        if stale:
            data = dict(session[SESSION_KEY_CONTEXT])
            data["fp"] = "stale"
            session[SESSION_KEY_CONTEXT] = data
            session.modified = False
        request.session = session
        request.user = user
        return request

    # 1. touch: an unchanged context.
    warmup = max(10, n // 20)
    bench.row(
        "touch (unchanged context)",
        _timed(middleware, lambda i: signed_in_request(), n, warmup),
    )

    # 2. a whole page with and without the middleware, interleaved in blocks.
    without = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    with_samples: list[int] = []
    without_samples: list[int] = []
    block = max(10, n // 10)
    for round_ in range(10):
        with override_settings(MIDDLEWARE=without):
            without_samples += _timed(
                lambda _: client.get("/"), lambda i: None, block, 5 if round_ == 0 else 2
            )
        with_samples += _timed(
            lambda _: client.get("/"), lambda i: None, block, 5 if round_ == 0 else 2
        )
    with_median, _ = bench.row("page GET / with the middleware", with_samples)
    without_median, _ = bench.row("page GET / without it", without_samples)

    # 3. a context change (new network) with risk evaluation and uncached GeoIP lookups.
    changes = max(50, n // 4)

    def changed_network(i: int) -> HttpRequest:
        geo_lookup.cache_clear()
        return signed_in_request(ip=f"198.51.100.{1 + i % 250}", stale=True)  # new /24: stale

    bench.row(
        "context change: network, risk, GeoIP", _timed(middleware, changed_network, changes, 10)
    )

    def changed_agent(i: int) -> HttpRequest:
        geo_lookup.cache_clear()
        browser_of.cache_clear()
        agent = CHROME.replace("Chrome/131.0.0.0", f"Chrome/131.0.{i}.{i % 97}")
        return signed_in_request(user_agent=agent, stale=True)

    bench.row(
        "context change: new user agent parsed", _timed(middleware, changed_agent, changes, 10)
    )

    # 4. risk evaluation at sign-in: Tokyo minutes after Lisboa (new device, network,
    # country, provider, impossible travel: a step-up).
    context = request_context(signed_in_request(ip=tokyo.ip))
    record = BrowserSession.objects.filter(user=user, ended_at__isnull=True).latest("created_at")
    history = user_history(user_id=str(user.pk), device_id="another-device-0000000000")

    def assess_and_decide(_: object) -> None:
        findings = assess(context=context, history=history, trigger="sign_in")
        action_for(findings, policy_rules())

    bench.row("sign-in: assess + policy", _timed(assess_and_decide, lambda i: None, n, warmup))

    def evaluate(request: HttpRequest) -> None:
        risk_evaluate_sign_in(request=request, user=user, record=record, context=context)

    bench.row(
        "sign-in: risk_evaluate_sign_in (+ history, stored)",
        _timed(evaluate, lambda i: signed_in_request(ip=tokyo.ip), changes, 10),
    )
    bench.rows.append(
        ("page difference (with - without; noisy)", with_median - without_median, float("nan"), 0)
    )
    return bench


def print_table(bench: Bench) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"Session context and risk evaluation, in-process ({connection.vendor}), median and "
        f"p95; load average {load} on {os.cpu_count()} cores:"
    )
    print(f"  {'operation':<52} {'median ms':>10} {'p95 ms':>8} {'n':>6}")
    for name, median, p95, count in bench.rows:
        p95_text = f"{p95:8.3f}" if p95 == p95 else f"{'':>8}"
        count_text = f"{count:6d}" if count else f"{'':>6}"
        print(f"  {name:<52} {median:10.3f} {p95_text} {count_text}")
    for name, median, _, _ in bench.rows:
        if name.startswith(PER_REQUEST_ROWS):
            verdict = "PASS" if median < TARGET_MS else "FAIL"
            print(f"  [{verdict}] {name}: median {median:.3f} ms (target < {TARGET_MS:.0f} ms)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
