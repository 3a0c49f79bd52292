"""What the interaction ingest API costs: throughput in interactions per second, in batches
of 100 (README "Interactions and the unified profile", issue 13 "Figures").

In-process, one thread, on a throwaway test database (SQLite with the default settings); no
server, no network. Seeded first: ``--customers`` customers (default 500) with a verified
address, who granted the analytics and personalization purposes (every 5th granted analytics
only), and one machine client holding an ``events:write`` access token.

Each scenario posts ``--batches`` batches (default 30, after ``--warmup`` untimed ones) of
``--batch-size`` items (default 100), each item about a random customer by email, mixing the
five types; it reports the median and p95 time of one batch and the throughput (batch size /
median). Every stored interaction writes its ``interaction.recorded`` outbox event in the same
transaction (no webhook endpoint is registered, so the fan-out finds none).

- **service**: ``interactions_ingest`` called directly (validation, one read of existing keys,
  two user look-ups, one consent query, ``bulk_create``, the outbox events);
- **service, no outbox**: the same with the outbox events switched off (what the ingest
  itself costs; the difference is ``event_emit_many``, one bulk insert per batch, and the
  webhook fan-out per event);
- **API**: ``POST /api/interactions/`` through Django's test client (full request: Bearer token
  check, JSON parse, the service, JSON answer), new keys each batch;
- **API replay**: the same batches sent again: every item is a ``duplicate``;
- **API mixed**: 20 % of items about customers without the item's consent (refused) and 10 %
  invalid.

Run: ``.venv/bin/python benchmarks/ingest.py [--customers N] [--batches N] [--batch-size N]``
(``benchmarks/run --events`` runs it too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
os.environ.setdefault("CIAM_STATIC_MANIFEST", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

KINDS = ("purchase", "page_view", "app_open", "support_contact", "campaign_click")


def _seed(customers: int) -> tuple[Any, str, list[Any], list[Any]]:
    from oauth2_provider.models import get_access_token_model, get_application_model

    from accounts.services.users import user_create
    from ciam.services.clients import client_register
    from consent.models import ConsentAction, ConsentChannel, Purpose, PurposeKind, PurposeVersion
    from consent.services.ledger import consent_record, purpose_version_publish

    purposes = {}
    for key, kind in (
        ("analytics", PurposeKind.ANALYTICS),
        ("personalization", PurposeKind.PERSONALIZATION),
    ):
        purpose = Purpose.objects.create(key=key, kind=kind)
        version = PurposeVersion.objects.create(
            purpose=purpose, number=1, title_en=key, text_en=f"{key} text"
        )
        purposes[key] = purpose_version_publish(version=version, change="material")
    users = []
    for index in range(customers):
        user = user_create(email=f"bench{index}@example.com", password=None, validate=False)
        consent_record(
            user=user,
            version=purposes["analytics"],
            action=ConsentAction.GRANTED,
            channel=ConsentChannel.PORTAL,
        )
        if index % 5:
            consent_record(
                user=user,
                version=purposes["personalization"],
                action=ConsentAction.GRANTED,
                channel=ConsentChannel.PORTAL,
            )
        users.append(user)
    registered = client_register(kind="service", name="Bench store")
    client = get_application_model().objects.get(client_id=registered.client_id)
    token = secrets.token_urlsafe(32)
    get_access_token_model().objects.create(
        application=client,
        token=token,
        expires=datetime.now(UTC) + timedelta(hours=2),
        scope="events:write",
    )
    partial = [user for index, user in enumerate(users) if index % 5 == 0]
    return client, token, users, partial


def _item(kind: str, user: Any, now: datetime, rng: random.Random) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "purchase": {
            "order_id": uuid.uuid4().hex[:12],
            "amount": f"{rng.uniform(1, 500):.2f}",
            "currency": "BRL",
        },
        "page_view": {
            "url": f"https://shop.example.test/p/{rng.randint(1, 9999)}",
            "referrer": "search",
        },
        "app_open": {"version": "5.2.1", "os": "android"},
        "support_contact": {"topic": "delivery", "ticket": rng.randint(1, 10**6)},
        "campaign_click": {"campaign": "black-friday", "medium": "email"},
    }[kind]
    return {
        "idempotency_key": str(uuid.uuid4()),
        "type": kind,
        "channel": {"purchase": "store", "app_open": "app", "support_contact": "support"}.get(
            kind, "web"
        ),
        "occurred_at": (now - timedelta(seconds=rng.randint(0, 86400))).isoformat(),
        "user": {"email": user.email},
        "properties": properties,
    }


def _batch(
    users: list[Any], size: int, rng: random.Random, *, partial: list[Any] | None = None
) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    items = []
    for index in range(size):
        kind = KINDS[index % len(KINDS)]
        if partial is not None and index % 10 in (0, 5):
            # purchases and support contacts (personalization) of customers without it
            items.append(
                _item(rng.choice(("purchase", "support_contact")), rng.choice(partial), now, rng)
            )
        elif partial is not None and index % 10 == 3:
            bad = _item(kind, rng.choice(users), now, rng)
            bad["occurred_at"] = "yesterday"
            items.append(bad)
        else:
            items.append(_item(kind, rng.choice(users), now, rng))
    return items


def _measure(
    run: Callable[[list[dict[str, Any]]], dict[str, int]],
    batches: list[list[dict[str, Any]]],
    warmup: int,
) -> tuple[list[float], dict[str, int]]:
    for batch in batches[:warmup]:
        run(batch)
    samples: list[float] = []
    totals: dict[str, int] = {}
    for batch in batches[warmup:]:
        started = time.perf_counter_ns()
        counts = run(batch)
        samples.append((time.perf_counter_ns() - started) / 1e6)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    return samples, totals


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args(argv)

    setup_test_environment()
    settings.DEBUG = False
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    rows: list[tuple[str, list[float], dict[str, int]]] = []
    try:
        from interactions.models import Interaction
        from interactions.services.ingest import interactions_ingest

        client, token, users, partial = _seed(max(10, args.customers))
        rng = random.Random(13)
        total = args.batches + args.warmup
        size = args.batch_size

        def service(batch: list[dict[str, Any]]) -> dict[str, int]:
            counts: dict[str, int] = {}
            for result in interactions_ingest(client=client, items=batch):
                counts[result.status] = counts.get(result.status, 0) + 1
            return counts

        http = Client()
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_HOST": "localhost"}

        def api(batch: list[dict[str, Any]]) -> dict[str, int]:
            response = http.post(
                "/api/interactions/",
                data=json.dumps({"interactions": batch}),
                content_type="application/json",
                **headers,
            )
            assert response.status_code == 200, response.content[:300]
            body = response.json()
            return {key: body[key] for key in ("stored", "duplicate", "refused", "invalid")}

        rows.append(
            (
                "service",
                *_measure(service, [_batch(users, size, rng) for _ in range(total)], args.warmup),
            )
        )
        # The same without the outbox events, to show what the ingest itself costs.
        import interactions.services.ingest as ingest_module

        emit = ingest_module._emit
        ingest_module._emit = lambda rows: None  # type: ignore[assignment]
        try:
            rows.append(
                (
                    "service, no outbox",
                    *_measure(
                        service, [_batch(users, size, rng) for _ in range(total)], args.warmup
                    ),
                )
            )
        finally:
            ingest_module._emit = emit  # type: ignore[assignment]
        api_batches = [_batch(users, size, rng) for _ in range(total)]
        rows.append(("API", *_measure(api, api_batches, args.warmup)))
        rows.append(("API replay", *_measure(api, api_batches, args.warmup)))
        mixed = [_batch(users, size, rng, partial=partial) for _ in range(total)]
        rows.append(("API mixed", *_measure(api, mixed, args.warmup)))
        stored = Interaction.objects.count()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"Interaction ingest, batches of {args.batch_size}, {args.batches} timed batches each "
        f"({args.warmup} warm-up), {args.customers} customers, {engine}; {stored} rows at the end"
    )
    print(f"{'scenario':<18} {'median ms':>10} {'p95 ms':>8} {'items/s':>9}  results")
    for name, samples, totals in rows:
        ordered = sorted(samples)
        median = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        rate = args.batch_size / (median / 1000)
        summary = ", ".join(f"{key} {value}" for key, value in sorted(totals.items()))
        print(f"{name:<18} {median:>10.1f} {p95:>8.1f} {rate:>9.0f}  {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
