"""Faults under load, each on real processes: PostgreSQL restarted (fast, then immediate
shutdown), Redis killed and started again, a webhook receiver down and the delivery worker
killed mid-delivery. The provider answers 503 with Retry-After while it cannot serve, goes
on without what it can do without, recovers by itself, and loses nothing it said it did.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

import pytest
import requests

from .clients import (
    TIMEOUT,
    Answer,
    Load,
    Recorder,
    Visitor,
    WebhookReceiver,
    monitor_socket,
    receive_event,
    redeem,
    token_checksum,
    token_request,
)
from .conftest import count_rows, query
from .servers import Worker, free_port, wait_until

pytestmark = pytest.mark.long

# Rows the load writes and nothing in this test deletes.
WRITTEN_TABLES = [
    "oauth2_provider_accesstoken",
    "oauth2_provider_refreshtoken",
    "oauth2_provider_idtoken",
    "consent_consent",
    "consent_consentrecord",
    "events_outboxevent",
    "sessions_ctx_browsersession",
]
SUCCESS = {200, 201, 302, 303}
RECOVERY_SECONDS = 5.0
PER_ENDPOINT_CONCURRENCY = 4
WORKER_ARGS = ("--poll", "0.1", "--concurrency", "4")


def unclean(answers: Iterable[Answer], *, allowed: set[int]) -> list[str]:
    """Answers other than ``allowed`` statuses and clean 503s (Retry-After, JSON or the
    short page, no traceback)."""
    problems = []
    for answer in answers:
        if answer.status in allowed:
            continue
        if (
            answer.status == 503
            and answer.retry_after
            and "Traceback" not in answer.body
            and answer.content_type.startswith(("application/json", "text/html"))
        ):
            continue
        problems.append(
            f"{answer.kind} {answer.status} {answer.url} {answer.error} {answer.content_type}: "
            + answer.body[:300]
        )
    return problems


def token_step(base: str, client: dict[str, str]) -> Callable[[Recorder], None]:
    """A back end asking for client_credentials tokens."""

    def step(recorder: Recorder) -> None:
        response = recorder.call(
            "token", lambda: token_request(base, client, grant_type="client_credentials")
        )
        if response is not None and response.status_code == 200:
            recorder.stored(access=response.json()["access_token"])

    return step


def sign_in_step(base: str, seed: dict[str, Any], emails: list[str]) -> Callable[[Recorder], None]:
    """A customer signing in to the web client through the password page, its code
    redeemed for tokens."""
    customers = itertools.cycle(emails)

    def step(recorder: Recorder) -> None:
        browser = Visitor(base, recorder=recorder)
        answer = browser.authorize(
            seed["web"],
            email=next(customers),
            password=seed["password"],
            on_signed_in=recorder.signed_in,
        )
        response = recorder.call("token", lambda: redeem(base, seed["web"], answer["code"]))
        if response is not None and response.status_code == 200:
            tokens = response.json()
            recorder.stored(access=tokens["access_token"], refresh=tokens["refresh_token"])

    return step


def consent_step(base: str, seed: dict[str, Any], emails: list[str]) -> Callable[[Recorder], None]:
    """A back end recording customers' consent decisions through the consent API."""
    customers = itertools.cycle(emails)
    actions = itertools.cycle(["granted", "withdrawn"])
    bearer: list[str] = []

    def step(recorder: Recorder) -> None:
        if not bearer:
            response = recorder.call(
                "token",
                lambda: token_request(
                    base, seed["service"], grant_type="client_credentials", scope="consent:write"
                ),
            )
            assert response is not None
            assert response.status_code == 200, response.status_code
            bearer.append(response.json()["access_token"])
            recorder.stored(access=bearer[0])
        email = next(customers)
        record = {
            "purpose": seed["purpose"]["key"],
            "version": seed["purpose"]["version"],
            "action": next(actions),
            "text_sha256": seed["purpose"]["text_sha256"],
        }
        response = recorder.call(
            "consent",
            lambda: requests.post(
                f"{base}/api/consent/users/email:{quote(email)}/records",
                json=record,
                headers={"Authorization": f"Bearer {bearer[0]}"},
                timeout=TIMEOUT,
            ),
        )
        if response is not None and response.status_code == 201:
            recorder.stored(record=response.json()["record"]["id"])

    return step


def stored_everything(url: str, recorder: Recorder) -> list[str]:
    """What the provider answered as stored but the database does not hold."""
    missing = []
    for table, tokens in (
        ("oauth2_provider_accesstoken", recorder.access_tokens),
        ("oauth2_provider_refreshtoken", recorder.refresh_tokens),
    ):
        checksums = {token_checksum(token) for token in tokens}
        found = query(
            url,
            f"SELECT token_checksum FROM {table} WHERE token_checksum = ANY(%s)",  # noqa: S608
            [sorted(checksums)],
        )
        missing += [f"{table}: {checksum}" for checksum in checksums - {row[0] for row in found}]
    records = set(recorder.consent_records)
    found = query(
        url,
        "SELECT id::text FROM consent_consentrecord WHERE id = ANY(%s::uuid[])",
        [sorted(records)],
    )
    missing += [f"consent record {record}" for record in records - {row[0] for row in found}]
    return missing


def signed_in_events(url: str) -> int:
    return query(url, "SELECT count(*) FROM events_outboxevent WHERE type = 'user.signed_in'")[0][0]


def succeeded_since(recorder: Recorder, start: float, kinds: set[str]) -> set[str]:
    """The ``kinds`` of request that succeeded at least once since ``start``."""
    return {
        answer.kind
        for answer in recorder.between(start, time.monotonic())
        if answer.status in SUCCESS
    } & kinds


def test_postgresql_restarted_under_load(postgres_cluster, environment, start_node, seed):
    """PostgreSQL stopped under steady token, sign-in and consent-API load (``pg_ctl stop
    -m fast``, then again ``-m immediate``), for 3 s each time: every request meanwhile gets
    a clean 503 with Retry-After (never a 500 or a traceback; ``/readyz`` says the database
    is unavailable), every kind of request succeeds again within 5 s of the database's
    return and all of them after that, and every token and consent record answered as
    issued, and every row counted before the stop, is there afterwards.

    Bound: 15 s to start, about 12 s per restart, 60 s in all."""
    database = postgres_cluster.url("ciam")
    node = start_node("node", environment(database_url=database))
    events_before_load = signed_in_events(database)
    customers = seed["customers"]
    load = Load()
    for number in range(3):
        load.add(f"tokens-{number}", token_step(node.url, seed["service"]), pause=0.05)
    for number in range(2):
        load.add(f"sign-ins-{number}", sign_in_step(node.url, seed, customers[number::2]))
    load.add("consent-api", consent_step(node.url, seed, customers), pause=0.05)
    kinds = {"token", "page", "consent"}
    load.start()
    try:
        started = time.monotonic()
        wait_until(lambda: succeeded_since(load.recorder, started, kinds) == kinds, timeout=20)
        for mode in ("fast", "immediate"):
            before = count_rows(database, WRITTEN_TABLES)
            down = time.monotonic()
            postgres_cluster.stop(mode)
            time.sleep(1.5)
            ready = requests.get(node.url + "/readyz", timeout=TIMEOUT)
            assert ready.status_code == 503, ready.text
            assert ready.json()["checks"]["database"] == "unavailable", ready.text
            assert ready.headers["Retry-After"]
            time.sleep(1.5)
            postgres_cluster.start()
            up = time.monotonic()
            outage = load.recorder.between(down + 0.5, up)
            assert any(answer.status == 503 for answer in outage), f"{mode}: no 503 seen"

            wait_until(
                lambda: succeeded_since(load.recorder, up, kinds) == kinds,  # noqa: B023
                timeout=RECOVERY_SECONDS,
            )
            time.sleep(RECOVERY_SECONDS + 2)
            after_recovery = load.recorder.between(up + RECOVERY_SECONDS, time.monotonic())
            assert after_recovery, f"{mode}: no request after the recovery"
            problems = unclean(after_recovery, allowed=SUCCESS)
            assert not problems, f"{mode}: {problems[:5]}"
            after = count_rows(database, WRITTEN_TABLES)
            lost = {
                table: (before[table], after[table])
                for table in before
                if after[table] < before[table]
            }
            assert not lost, f"{mode}: rows lost {lost}"
    finally:
        recorder = load.stop()

    problems = unclean(recorder.answers, allowed=SUCCESS)
    assert not problems, problems[:10]
    assert requests.get(node.url + "/readyz", timeout=TIMEOUT).status_code == 200
    assert not stored_everything(database, recorder)
    assert signed_in_events(database) >= events_before_load + recorder.sign_ins
    assert recorder.sign_ins > 0
    assert recorder.consent_records
    assert sum(answer.status == 503 for answer in recorder.answers) > 0


def wrong_passwords_until_refused(base: str, email: str, *, tries: int) -> list[int]:
    """The statuses of up to ``tries`` wrong passwords for ``email``, stopping at a 429."""
    statuses = []
    for _ in range(tries):
        statuses.append(Visitor(base).sign_in(email, "not-the-password-1").status_code)
        if statuses[-1] == 429:
            break
    return statuses


def test_redis_killed_and_started_again(
    database, environment, start_node, redis_server, long_template
):
    """With the cache and the channel layer on Redis, Redis killed: password sign-ins,
    wrong passwords and token requests are answered as usual, each within 3 s (the cache
    keeps nothing meanwhile, so the sign-in limits wait for Redis; ``/readyz`` stays 200,
    "degraded", naming Redis unavailable). Redis started again on its address: the nodes
    use it again by themselves (the limits count again up to a 429, a sign-in reaches a new
    monitor socket).

    Bound: 20 s to start, 5 s without Redis, 20 s to recover; 60 s in all."""
    env = environment(
        database_url=database,
        redis_url=redis_server.url,
        CIAM_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS="2",
        CIAM_SIGNIN_BACKOFF_SECONDS="60",
    )
    node = start_node("node", env)
    monitor = start_node("monitor", env, asgi=True)
    seed = long_template.seed
    customers, password = seed["customers"], seed["password"]
    operator = {"operator": seed["operator"], "secret_key": long_template.secret_key}

    # Redis in use: a live event goes through it, a wrong password is counted in it.
    with monitor_socket(monitor.ws_url, **operator) as socket:
        assert Visitor(node.url).sign_in(customers[0], password).status_code == 302
        receive_event(socket, "user.signed_in", timeout=15)
    assert wrong_passwords_until_refused(node.url, customers[1], tries=1) == [200]
    assert redis_server.client().dbsize() > 0

    redis_server.kill()
    recorder = Recorder()
    down = time.monotonic()
    while time.monotonic() - down < 5:
        number = 2 + int(time.monotonic() - down) % 3
        signed_in = Visitor(node.url, recorder=recorder).sign_in(customers[number], password)
        assert signed_in.status_code == 302
        refused = Visitor(node.url, recorder=recorder).sign_in(customers[5], "not-the-password-1")
        assert refused.status_code == 200
        response = recorder.call(
            "token",
            lambda: token_request(node.url, seed["service"], grant_type="client_credentials"),
        )
        assert response is not None
        assert response.status_code == 200, response.text
    problems = unclean(recorder.answers, allowed=SUCCESS)
    assert not problems, problems[:5]
    slowest = max(answer.ended - answer.started for answer in recorder.answers)
    assert slowest < 3, slowest
    # Still in the load balancer: ready, degraded, Redis named.
    ready = requests.get(node.url + "/readyz", timeout=TIMEOUT)
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["redis"] == "unavailable"

    redis_server.start()
    back = time.monotonic()
    # The limits count in Redis again (after at most RETRY_SECONDS of ciam/ops/cache.py): a
    # fresh pair's wrong passwords end in a 429.
    # (The node's first calls may still fall in the skip window, or meet a pooled
    # connection of the old server: the tries are repeated until they count, within 10 s.)
    wait_until(
        lambda: wrong_passwords_until_refused(node.url, customers[6], tries=10)[-1] == 429,
        timeout=10,
        interval=0.5,
    )
    assert time.monotonic() - back < 12
    assert redis_server.client().dbsize() > 0

    def live_event_arrives() -> dict[str, Any]:
        with monitor_socket(monitor.ws_url, **operator) as socket:
            assert Visitor(node.url).sign_in(customers[7], password).status_code == 302
            return receive_event(socket, "user.signed_in", timeout=5)

    assert wait_until(live_event_arrives, timeout=20, interval=0.5)["method"] == "password"
    wait_until(
        lambda: requests.get(node.url + "/readyz", timeout=TIMEOUT).json()["status"] == "ok",
        timeout=5,
    )


def test_webhooks_through_a_receiver_outage_and_a_killed_worker(
    database, environment, start_node, long_template
):
    """Customers sign in steadily while the receiver of ``user.signed_in`` is down, then
    up, and the delivery worker (``manage.py events_worker``) is killed with SIGKILL
    mid-delivery and started again: every event is delivered at least once with its
    event id as ``webhook-id`` and a valid signature, sent again only if it was in flight
    when the worker died, the first delivery of each customer's events in their order, and
    no delivery is left pending or failed.

    Bound: 15 s to start, 20 s for the worker to meet the receiver down, 20 s for it to
    meet it up, 5 s more of load, 45 s to drain (5 s leases, 1 s retries)."""
    from standardwebhooks.webhooks import Webhook

    seed = long_template.seed
    receiver = WebhookReceiver(free_port(), delay=0.3)
    query(
        database,
        "UPDATE webhooks_endpoint SET url = %s, active = true WHERE id = %s",
        [receiver.url, seed["endpoint"]["id"]],
    )
    first_seq = query(database, "SELECT coalesce(max(id), 0) FROM events_outboxevent")[0][0]
    env = environment(database_url=database)
    node = start_node("node", env)
    worker_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "tests.long.worker_settings",
        "CIAM_WEBHOOKS_TIMEOUT_SECONDS": "2",
        "CIAM_WEBHOOKS_RETRY_SCHEDULE": ",".join(["1"] * 30),
        "CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY": str(PER_ENDPOINT_CONCURRENCY),
    }
    worker = Worker(worker_env, *WORKER_ARGS)
    load = Load()
    customers = itertools.cycle(seed["customers"][:6])
    refused = "SELECT count(*) FROM webhooks_deliveryattempt WHERE status_code IS NULL"

    def sign_in(recorder: Recorder) -> None:
        answer = Visitor(node.url, recorder=recorder).sign_in(next(customers), seed["password"])
        assert answer.status_code == 302, answer.status_code
        recorder.signed_in()

    for number in range(2):
        load.add(f"sign-ins-{number}", sign_in, pause=0.1)
    try:
        worker.start()
        load.start()
        # The receiver is down: the worker's attempts are refused, recorded and retried.
        wait_until(lambda: query(database, refused)[0][0] >= 2, timeout=20, interval=0.3)
        receiver.start()
        # Killed while the receiver holds requests: their outcomes are never recorded.
        wait_until(lambda: receiver.count() >= 6 and receiver.in_flight > 0, timeout=20)
        worker.kill()
        time.sleep(0.5)
        worker = Worker(worker_env, *WORKER_ARGS).start()
        time.sleep(5)
        recorder = load.stop()

        def drained() -> bool:
            pending = "SELECT count(*) FROM webhooks_delivery WHERE status <> 'succeeded'"
            return query(database, pending)[0][0] == 0

        wait_until(drained, timeout=45, interval=0.5)
    finally:
        load.stop()
        worker.stop()
        receiver.stop()

    events = query(
        database,
        "SELECT e.id, e.event_id::text, e.subject FROM events_outboxevent e "
        "JOIN webhooks_delivery d ON d.event_id = e.id "
        "WHERE e.type = 'user.signed_in' AND e.id > %s ORDER BY e.id",
        [first_seq],
    )
    statuses = dict(query(database, "SELECT status, count(*) FROM webhooks_delivery GROUP BY 1"))
    assert not unclean(recorder.answers, allowed=SUCCESS)
    assert recorder.sign_ins >= 10
    assert len(events) >= recorder.sign_ins
    assert statuses == {"succeeded": len(events)}

    received = receiver.all()
    ids = [item.webhook_id for item in received]
    assert set(ids) == {event_id for _, event_id, _ in events}
    # Sent again: what the killed worker had in flight (its leases, at most the endpoint's
    # concurrency), and only that.
    assert 1 <= len(ids) - len(set(ids)) <= PER_ENDPOINT_CONCURRENCY
    verifier = Webhook(seed["endpoint"]["secret"])
    for item in received:
        payload = verifier.verify(item.body, item.headers)
        assert payload["id"] == item.webhook_id
        assert payload["type"].endswith("user.signed_in.v1")

    first_arrival: dict[str, int] = {}
    for position, item in enumerate(received):
        first_arrival.setdefault(item.webhook_id, position)
    for subject in {subject for _, _, subject in events}:
        theirs = [event_id for _, event_id, event_subject in events if event_subject == subject]
        assert sorted(theirs, key=first_arrival.__getitem__) == theirs, subject
