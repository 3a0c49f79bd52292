"""Webhook delivery throughput: events per second to a local receiver, 1 and 4 workers.

A throwaway test database (SQLite in memory by default; the PostgreSQL of ``DATABASE_URL``
when set, as ``test_<name>``), one endpoint for ``user.signed_in``, ``--events`` events
spread over ``--subjects`` customers (ordering per subject applies) written through the
outbox (``event_emit``: each fan-out writes its delivery), and a receiver on 127.0.0.1
(``http.server``, threads) that answers 204 at once.

Each pass: the deliveries are written not yet due; the workers start (``manage.py
events_worker`` processes on PostgreSQL; on SQLite one worker in this process, since a
second process cannot reach an in-memory database and SQLite has no row locks: the
documented deployment there is one worker); once they idle, every delivery is made due at
once and the clock runs until the last one has succeeded. Figures are deliveries (events)
per second, signed (Standard Webhooks, HMAC-SHA256), sent through the SSRF guard and
recorded (attempt log) like in production.

Run: ``benchmarks/run --events`` or ``.venv/bin/python benchmarks/webhooks.py [--events N]
[--subjects N] [--workers 1,4] [--concurrency N] [--per-endpoint N]``; with
``DATABASE_URL=postgres://...`` for the PostgreSQL passes.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
os.environ.setdefault("CIAM_STATIC_MANIFEST", "0")
os.environ["CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES"] = "1"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with _Receiver.lock:
            _Receiver.count += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    # http.server's default backlog of 5 resets connections under a burst: every reset is
    # a failed attempt retried 5 s later, which would measure the retry schedule instead.
    request_queue_size = 1024
    daemon_threads = True


def receiver_start() -> ThreadingHTTPServer:
    server = _Server(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def seed(*, url: str, events: int, subjects: int) -> None:
    from django.contrib.auth import get_user_model

    from events.services.outbox import event_emit
    from webhooks.models import Delivery, Endpoint
    from webhooks.services.secrets import endpoint_secret_generate

    Delivery.objects.all().delete()
    Endpoint.objects.all().delete()
    Endpoint.objects.create(
        name="Bench",
        url=url,
        event_types=["user.signed_in"],
        secret=endpoint_secret_generate(),
    )
    User = get_user_model()
    users = list(User.objects.filter(email__startswith="bench-")[:subjects])
    for index in range(len(users), subjects):
        users.append(User.objects.create(email=f"bench-{index}@example.com"))
    data = {"method": "password", "amr": ["pwd"], "acr": "1"}
    with transaction.atomic():
        for index in range(events):
            user = users[index % len(users)] if users else None
            event_emit(type="user.signed_in", user=user, data=data)
    # Not due yet: the workers start idle.
    Delivery.objects.update(next_attempt_at=timezone.now() + timedelta(days=1))


def attempts() -> int:
    from webhooks.models import DeliveryAttempt

    return DeliveryAttempt.objects.count()


def succeeded() -> int:
    from webhooks.models import Delivery

    return Delivery.objects.filter(status="succeeded").count()


def make_due() -> None:
    from webhooks.models import Delivery

    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def pass_in_process(*, events: int, concurrency: int) -> float:
    from webhooks.services.worker import DeliveryWorker

    make_due()
    started = time.perf_counter()
    DeliveryWorker(concurrency=concurrency, poll_seconds=0.01).run(once=True)
    elapsed = time.perf_counter() - started
    if succeeded() != events:
        raise SystemExit(f"only {succeeded()} of {events} delivered")
    return elapsed


def pass_processes(*, events: int, workers: int, concurrency: int) -> float:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "events_worker",
        "--poll",
        "0.02",
        "--concurrency",
        str(concurrency),
    ]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    try:
        time.sleep(4)  # started and idle
        make_due()
        started = time.perf_counter()
        deadline = started + 600
        while succeeded() < events:
            if time.perf_counter() > deadline:
                raise SystemExit(f"only {succeeded()} of {events} delivered in 10 minutes")
            time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="per pass (default 2000)")
    parser.add_argument("--subjects", type=int, default=200, help="customers (default 200)")
    parser.add_argument("--workers", default="1,4", help="worker counts (default 1,4)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker")
    parser.add_argument(
        "--per-endpoint", type=int, default=32, help="in flight to the endpoint (default 32)"
    )
    args = parser.parse_args(argv)
    os.environ["CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY"] = str(args.per_endpoint)
    settings.CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY = args.per_endpoint
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    counts = [int(part) for part in args.workers.split(",") if part.strip()]

    setup_test_environment()
    settings.DEBUG = False
    postgres = connection.vendor == "postgresql"
    server = receiver_start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    rows: list[tuple[int, float, int]] = []
    try:
        for workers in counts:
            if workers > 1 and not postgres:
                print(f"({workers} workers skipped: SQLite runs one worker; set DATABASE_URL)")
                continue
            seed(url=url, events=args.events, subjects=args.subjects)
            if postgres:
                # Committed for the worker processes: the test database is not in a test
                # transaction here.
                elapsed = pass_processes(
                    events=args.events, workers=workers, concurrency=args.concurrency
                )
            else:
                elapsed = pass_in_process(events=args.events, concurrency=args.concurrency)
            rows.append((workers, elapsed, attempts()))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        server.shutdown()
    database = "PostgreSQL" if postgres else "SQLite"
    print(
        f"\nWebhook delivery to a loopback receiver: {args.events} events, "
        f"{args.subjects} subjects, {database}, {args.concurrency} threads per worker, "
        f"at most {args.per_endpoint} in flight to the endpoint"
    )
    print(f"{'workers':>8} {'seconds':>9} {'events/s':>10} {'attempts':>9}")
    for workers, elapsed, tried in rows:
        print(f"{workers:>8} {elapsed:>9.2f} {args.events / elapsed:>10.0f} {tried:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
