"""What personalization costs the product: the ``interests`` claims and training in the database.

In-process, one thread, on a throwaway test database (SQLite with the default settings;
PostgreSQL when ``DATABASE_URL`` names one, as for every in-process benchmark: Django's test
database on that server); no server, no network. ``benchmarks/run --personalization`` runs it
after the offline evaluation (benchmarks/personalization.py).

Seeded first: a small synthetic shop (``--customers N``, default 2,000, who each grant a
``personalization`` purpose linked to the shop's client by ``ClientPurpose``; ``--interactions
M``, default 40,000, written with ``bulk_create``): 12 categories, 30 brands selling in one or
two of them, ``customers / 5`` items (at least 120) in product lines of four items of one
category and brand. Each customer favours two categories and two brands (70% of their
interactions; the rest follow the items' long-tailed popularity), and 35% of their
interactions after their first take another item of the line of the previous one: the
co-purchases the item-item model should find. Page views 60%, purchases 25%, campaign clicks
15%, over the last 90 days, around a preferred hour of each customer. Two operators' segments
exist (a category interest, engagement in the last 30 days).

Measured:

- **Training through the database**, ``personalization_train``: a full run (seconds, the rows
  it leaves: ``Interest``, ``Insight``, ``ItemNeighbour``, ``CatalogueItem``, and the outbox
  events it wrote; the process's peak RSS during the run, from ``getrusage`` after resetting
  the peak through ``/proc/self/clear_refs`` where Linux allows it, else since the start); a
  second full run with nothing changed (it should write no event: the insights are rewritten
  to the same values); then new interactions for 1% of the customers and an incremental run.
- **Claims lookup during token issuance**, for a customer who grants the purpose and has a
  precomputed ``Insight`` (10 interests, 10 recommendations, a contact window, 2 segments):
  ``interests_claim`` alone (and its two parts: the consent check, the ``Insight`` read);
  and the whole claims computation of UserInfo,
  ``CIAMValidator.get_userinfo_claims`` (``claim_source_for`` + ``with_provided_claims`` +
  ``user_claims``, on the access token as ``ACCESS_TOKEN_LOOKUP`` loads it) with the scope
  ``openid email interests`` against ``openid email``, interleaved iteration by iteration;
  the paired difference is the ``interests`` scope's cost. Median and p95 of ``--iterations``
  after a warm-up, and the SQL queries of one call (``CaptureQueriesContext``).

Target: the interests claims add < 1 ms (median) to UserInfo. The training target (< 120 s
and < 2 GB for 100,000 customers x 1,000,000 interactions) is checked when run at that size.

Run: ``benchmarks/run --personalization`` or ``.venv/bin/python benchmarks/personalization_db.py
[--customers N] [--interactions M] [--iterations N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import resource
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
os.environ.setdefault("CIAM_STATIC_MANIFEST", "0")

import django  # noqa: E402
from django.apps import apps  # noqa: E402

if not apps.ready:  # imported by the tests, Django is set up already
    django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

TARGET_MS = 1.0
TARGET_SECONDS = 120.0
TARGET_MB = 2048.0
# The size the training target is stated for.
TARGET_CUSTOMERS = 100_000
TARGET_INTERACTIONS = 1_000_000

CATEGORIES = (
    "Phones",
    "Audio",
    "Computers",
    "Kitchen",
    "Garden",
    "Toys",
    "Books",
    "Sports",
    "Beauty",
    "Fashion",
    "Pets",
    "Tools",
)
BRANDS = 30
LINE = 4  # items of one product line
FAVOURITE_SHARE = 0.7
LINE_SHARE = 0.35
TYPES = (("page_view", 0.60), ("purchase", 0.25), ("campaign_click", 0.15))
HISTORY_DAYS = 90
PREFERRED_HOURS = (8, 12, 20, 23)
INCREMENTAL_SHARE = 0.01
INCREMENTAL_INTERACTIONS = 5  # per customer with new activity
SEGMENTS = (
    ("audio-fans", "Audio fans", [{"type": "interest", "kind": "category", "name": "Audio"}]),
    ("recent", "Engaged this month", [{"type": "engaged_within_days", "days": 30}]),
)


def _ms(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) / 1e6, p95 / 1e6


# --- the shop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    key: str
    category: str
    brand: str


@dataclass
class Shop:
    """What the seed wrote: the client, the purpose, the customers and the catalogue."""

    application: Any
    purpose: Any
    user_ids: list[int]
    items: list[Item]
    interactions: int
    seconds: float
    preferred_hour: dict[int, int] = field(default_factory=dict)


def shop_catalogue(count: int, rng: random.Random) -> list[Item]:
    """``count`` items (rounded up to whole product lines) of ``CATEGORIES`` and ``BRANDS``
    brands, each brand selling in one or two categories."""
    brand_categories = {
        f"Brand {index:02d}": rng.sample(CATEGORIES, rng.choice((1, 2))) for index in range(BRANDS)
    }
    brands = list(brand_categories)
    items: list[Item] = []
    line = 0
    while len(items) < count:
        brand = brands[line % len(brands)] if line < len(brands) else rng.choice(brands)
        category = rng.choice(brand_categories[brand])
        for position in range(LINE):
            items.append(Item(f"sku-{line:05d}-{position}", category, brand))
        line += 1
    return items


def shop_interactions(
    user_ids: list[int], items: list[Item], count: int, rng: random.Random, *, now: datetime
) -> tuple[list[tuple[int, str, datetime, Item]], dict[int, int]]:
    """``count`` interactions ``(user_id, type, occurred_at, item)`` of the customers, oldest
    first per customer, and each customer's preferred hour (UTC)."""
    popularity = [rng.lognormvariate(0, 1.2) for _ in items]
    by_category: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_category.setdefault(item.category, []).append(index)
    activity = [rng.lognormvariate(0, 1.0) for _ in user_ids]
    counts = dict.fromkeys(user_ids, 0)
    for user_id in rng.choices(user_ids, weights=activity, k=count):
        counts[user_id] += 1
    type_names = [name for name, _share in TYPES]
    type_shares = [share for _name, share in TYPES]
    brands = sorted({item.brand for item in items})
    preferred: dict[int, int] = {}
    rows: list[tuple[int, str, datetime, Item]] = []
    for user_id in user_ids:
        favourite_categories = rng.sample(CATEGORIES, 2)
        favourite_brands = set(rng.sample(brands, 2))
        candidates = [i for c in favourite_categories for i in by_category.get(c, [])]
        weights = [
            popularity[i] * (4.0 if items[i].brand in favourite_brands else 1.0) for i in candidates
        ]
        # Sao Paulo local hours (UTC-3) stored in UTC.
        hour = (rng.choice(PREFERRED_HOURS) + 3) % 24
        preferred[user_id] = hour
        times = []
        for _ in range(counts[user_id]):
            at = now - timedelta(days=rng.uniform(0, HISTORY_DAYS - 1))
            if rng.random() < 0.75:  # around the preferred hour, else any time of day
                at = at.replace(hour=hour, minute=0) + timedelta(minutes=rng.gauss(0, 72))
            times.append(min(at, now))
        times.sort()
        previous: int | None = None
        for at in times:
            if previous is not None and rng.random() < LINE_SHARE:
                start = previous - previous % LINE
                index = start + rng.choice([p for p in range(LINE) if start + p != previous])
            elif candidates and rng.random() < FAVOURITE_SHARE:
                index = rng.choices(candidates, weights=weights)[0]
            else:
                index = rng.choices(range(len(items)), weights=popularity)[0]
            kind = rng.choices(type_names, weights=type_shares)[0]
            rows.append((user_id, kind, at, items[index]))
            previous = index
    return rows, preferred


def interactions_write(application: Any, rows: list[tuple[int, str, datetime, Item]]) -> int:
    """The rows as ``Interaction``s of ``application`` under the ``personalization`` purpose,
    in bulk; how many were written."""
    from interactions.models import Interaction

    Interaction.objects.bulk_create(
        (
            Interaction(
                user_id=user_id,
                client=application,
                type=kind,
                channel="web",
                occurred_at=at,
                # Received when it happened (an import of past activity), not while the
                # training runs below look for late arrivals.
                received_at=at,
                properties={"item": item.key, "category": item.category, "brand": item.brand},
                purpose="personalization",
                idempotency_key=secrets.token_hex(16),
            )
            for user_id, kind, at, item in rows
        ),
        batch_size=2000,
    )
    return len(rows)


def shop_seed(*, customers: int, interactions: int, seed: int = 1) -> Shop:
    """The client, the purpose (linked to it), ``customers`` customers who grant it, the
    operators' segments and ``interactions`` interactions."""
    from oauth2_provider.models import get_application_model

    from accounts.services.users import user_create
    from ciam.services.clients import client_register
    from consent.models import ClientPurpose, ConsentAction, ConsentChannel, Purpose, PurposeKind
    from consent.services.ledger import consent_record
    from personalization.models import Segment
    from personalization.segments import segment_conditions_parse
    from tests.consent.purposes_helpers import publish

    started = time.perf_counter()
    rng = random.Random(seed)
    registered = client_register(name="Shop", kind="web", redirect_uris=["https://shop.example/cb"])
    application = get_application_model().objects.get(client_id=registered.client_id)
    purpose = Purpose.objects.create(key="personalization", kind=PurposeKind.PERSONALIZATION)
    ClientPurpose.objects.create(application=application, purpose=purpose, required=False)
    version = publish(purpose)
    for key, name, conditions in SEGMENTS:
        segment_conditions_parse(conditions)
        Segment.objects.create(key=key, name_en=name, conditions=conditions)

    user_ids: list[int] = []
    for index in range(customers):
        user = user_create(email=f"shopper{index:06d}@example.com", password=None, validate=False)
        consent_record(
            user=user,
            version=version,
            action=ConsentAction.GRANTED,
            channel=ConsentChannel.PORTAL,
            application=application,
        )
        user_ids.append(user.pk)
    items = shop_catalogue(max(120, customers // 5), rng)
    rows, preferred = shop_interactions(user_ids, items, interactions, rng, now=datetime.now(UTC))
    written = interactions_write(application, rows)
    return Shop(
        application=application,
        purpose=purpose,
        user_ids=user_ids,
        items=items,
        interactions=written,
        seconds=time.perf_counter() - started,
        preferred_hour=preferred,
    )


# --- training --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingRow:
    name: str
    seconds: float
    customers: int
    interactions: int
    interests: int
    insights: int
    neighbours: int
    catalogue: int
    events: int
    events_by_type: dict[str, int]
    peak_mb: float
    rss_before_mb: float


def _peak_reset() -> bool:
    """Reset the process's peak RSS (Linux 4.0+: ``clear_refs`` 5); whether it could."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def _peak_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training_run(name: str, kind: str) -> TrainingRow:
    """One ``personalization_train(kind=kind)`` timed, with the rows it leaves and the
    events it wrote."""
    from django.db.models import Count

    from events.models import OutboxEvent
    from personalization.models import CatalogueItem, Insight, Interest, ItemNeighbour
    from personalization.services.training import personalization_train

    last_event = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rss_before = _rss_mb()
    _peak_reset()
    started = time.perf_counter()
    run = personalization_train(kind=kind)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    by_type = dict(
        OutboxEvent.objects.filter(id__gt=last_event)
        .values_list("type")
        .annotate(count=Count("id"))
        .values_list("type", "count")
    )
    return TrainingRow(
        name=name,
        seconds=seconds,
        customers=run.users,
        interactions=run.interactions,
        interests=Interest.objects.count(),
        insights=Insight.objects.count(),
        neighbours=ItemNeighbour.objects.count(),
        catalogue=CatalogueItem.objects.count(),
        events=sum(by_type.values()),
        events_by_type=by_type,
        peak_mb=peak,
        rss_before_mb=rss_before,
    )


def training_measure(shop: Shop, *, seed: int = 1) -> list[TrainingRow]:
    """A full run, a second full run with nothing changed, then new interactions for 1% of
    the customers and an incremental run."""
    rows = [training_run("full", "full"), training_run("full again, nothing changed", "full")]
    rng = random.Random(seed + 1)
    changed = rng.sample(shop.user_ids, max(1, round(len(shop.user_ids) * INCREMENTAL_SHARE)))
    now = datetime.now(UTC)
    new_rows = [
        (
            user_id,
            rng.choices([n for n, _s in TYPES], weights=[s for _n, s in TYPES])[0],
            now - timedelta(minutes=rng.uniform(1, 120)),
            rng.choice(shop.items),
        )
        for user_id in changed
        for _ in range(INCREMENTAL_INTERACTIONS)
    ]
    interactions_write(shop.application, new_rows)
    rows.append(
        training_run(
            f"incremental ({len(changed)} customers, {len(new_rows)} new interactions)",
            "incremental",
        )
    )
    return rows


# --- claims ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimsRow:
    name: str
    median_ms: float
    p95_ms: float
    queries: int
    count: int


def claims_customer(shop: Shop) -> Any:
    """A customer who grants the shop's personalization purpose, with a precomputed insight
    of 10 interests, 10 recommendations, a contact window and 2 segments."""
    from accounts.services.users import user_create
    from consent.models import ConsentAction, ConsentChannel
    from consent.services.ledger import consent_record
    from personalization.models import Insight

    user = user_create(
        email=f"claims-{secrets.token_hex(4)}@example.com",
        password=None,
        given_name="Ana",
        family_name="Silva",
        validate=False,
    )
    consent_record(
        user=user,
        version=shop.purpose.current_version(),
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.PORTAL,
        application=shop.application,
    )
    categories = [item.category for item in shop.items]
    brands = [item.brand for item in shop.items]
    names = list(dict.fromkeys(categories))[:5] + list(dict.fromkeys(brands))[:5]
    interests = [
        {
            "kind": "category" if index < 5 else "brand",
            "name": name,
            "score": round(1.0 - index * 0.08, 3),
            "source": "inferred",
        }
        for index, name in enumerate(names)
    ]
    recommendations = [
        {
            "item": item.key,
            "category": item.category,
            "brand": item.brand,
            "score": round(0.5 - index * 0.03, 4),
            "because": shop.items[-1].key,
        }
        for index, item in enumerate(shop.items[:10])
    ]
    Insight.objects.update_or_create(
        user=user,
        defaults={
            "interests": interests,
            "recommendations": recommendations,
            "best_hours": [20, 21, 19],
            "best_weekdays": [6, 7],
            "time_zone": "America/Sao_Paulo",
            "window_from_prior": False,
            "segments": [key for key, _name, _conditions in SEGMENTS],
            "interactions": 40,
            "engaged_at": datetime.now(UTC),
        },
    )
    return user


def _access_token(user: Any, application: Any, scope: str) -> Any:
    """A bearer token of ``user`` for ``scope``, loaded as UserInfo loads it (with its
    client, user, profile and verified-email flag in one query)."""
    from oauth2_provider.models import get_access_token_model

    from ciam.oauth.lookups import ACCESS_TOKEN_LOOKUP
    from ciam.oauth.tokens import token_checksum

    token = secrets.token_urlsafe(32)
    get_access_token_model().objects.create(
        user=user,
        application=application,
        token=token,
        expires=datetime.now(UTC) + timedelta(hours=1),
        scope=scope,
    )
    return ACCESS_TOKEN_LOOKUP.first(token_checksum(token))


def _queries(run: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured)


def claims_measure(shop: Shop, *, iterations: int, warmup: int) -> list[ClaimsRow]:
    """``interests_claim`` alone, then UserInfo's claims with and without the ``interests``
    scope, interleaved; the paired difference is the scope's cost."""
    from ciam.oauth.validator import CIAMValidator
    from personalization.claims import interests_claim
    from personalization.models import Insight
    from personalization.services.consent import personalization_allowed

    user = claims_customer(shop)
    application = shop.application
    scopes = frozenset({"openid", "interests"})

    def claim_alone() -> dict[str, Any]:
        return interests_claim(user, application, scopes)

    found = claim_alone()
    if len(found.get("interests", [])) != 10 or len(found.get("segments", [])) != 2:
        raise SystemExit(f"interests_claim: unexpected claims {sorted(found)}")

    validator = CIAMValidator()
    requests: dict[str, SimpleNamespace] = {}
    for label, scope in (("with", "openid email interests"), ("without", "openid email")):
        token = _access_token(user, application, scope)
        requests[label] = SimpleNamespace(access_token=token, user=token.user)

    def userinfo_with() -> dict[str, Any]:
        return validator.get_userinfo_claims(requests["with"])

    def userinfo_without() -> dict[str, Any]:
        return validator.get_userinfo_claims(requests["without"])

    if "interests" not in userinfo_with() or "interests" in userinfo_without():
        raise SystemExit("UserInfo: the interests claims follow the scope, and they did not")

    def consent_check() -> object:
        return personalization_allowed(user=user, application=application)

    def insight_read() -> object:
        return Insight.objects.filter(user_id=user.pk).first()

    parts = (claim_alone, consent_check, insight_read)
    timed: tuple[list[int], ...] = tuple([] for _ in parts)
    for i in range(warmup + iterations):
        for run, samples in zip(parts, timed, strict=True):
            start = time.perf_counter_ns()
            run()
            elapsed = time.perf_counter_ns() - start
            if i >= warmup:
                samples.append(elapsed)

    with_scope: list[int] = []
    without_scope: list[int] = []
    for i in range(warmup + iterations):
        for run, samples in ((userinfo_with, with_scope), (userinfo_without, without_scope)):
            start = time.perf_counter_ns()
            run()
            elapsed = time.perf_counter_ns() - start
            if i >= warmup:
                samples.append(elapsed)
    deltas = [a - b for a, b in zip(with_scope, without_scope, strict=True)]

    queries_with = _queries(userinfo_with)
    queries_without = _queries(userinfo_without)
    return [
        ClaimsRow("interests_claim alone", *_ms(timed[0]), _queries(claim_alone), iterations),
        ClaimsRow(
            "  compare: personalization_allowed (ORM, uncompiled)",
            *_ms(timed[1]),
            _queries(consent_check),
            iterations,
        ),
        ClaimsRow(
            "  compare: Insight read by the ORM",
            *_ms(timed[2]),
            _queries(insight_read),
            iterations,
        ),
        ClaimsRow(
            "UserInfo claims, openid email", *_ms(without_scope), queries_without, iterations
        ),
        ClaimsRow(
            "UserInfo claims, openid email interests", *_ms(with_scope), queries_with, iterations
        ),
        ClaimsRow(
            "interests scope's cost (paired difference)",
            *_ms(deltas),
            queries_with - queries_without,
            iterations,
        ),
    ]


# --- the report ------------------------------------------------------------------------------


def print_table(
    argv: list[str], shop: Shop, claims: list[ClaimsRow], training: list[TrainingRow]
) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print("$ benchmarks/personalization_db.py " + " ".join(argv))
    print(
        f"Personalization in the database ({connection.vendor}), in-process; load average "
        f"{load} on {os.cpu_count()} cores"
    )
    print(
        f"Shop: {len(shop.user_ids):,} consenting customers, {shop.interactions:,} "
        f"interactions, {len(shop.items):,} items (seeded in {shop.seconds:.1f} s)"
    )
    print()
    print("Claims during token issuance (a customer with a precomputed insight), median and p95:")
    print(f"  {'operation':<46} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'n':>6}")
    for claims_row in claims:
        print(
            f"  {claims_row.name:<46} {claims_row.median_ms:10.3f} {claims_row.p95_ms:8.3f} "
            f"{claims_row.queries:8d} {claims_row.count:6d}"
        )
    print()
    print("Training (personalization_train), seconds; rows in the tables after the run:")
    print(
        f"  {'run':<48} {'seconds':>8} {'cust.':>6} {'inter.':>7} {'Interest':>8} "
        f"{'Insight':>7} {'ItemNeighb.':>11} {'Catalogue':>9} {'events':>6} {'peak MB':>8}"
    )
    for row in training:
        print(
            f"  {row.name:<48} {row.seconds:8.2f} {row.customers:6d} {row.interactions:7d} "
            f"{row.interests:8d} {row.insights:7d} {row.neighbours:11d} {row.catalogue:9d} "
            f"{row.events:6d} {row.peak_mb:8.0f}"
        )
    for row in training:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(row.events_by_type.items()))
        print(f"  events of {row.name}: {kinds or 'none'}; RSS before {row.rss_before_mb:.0f} MB")
    print()
    cost = next(row for row in claims if "paired" in row.name)
    verdict = "PASS" if cost.median_ms < TARGET_MS else "FAIL"
    print(
        f"  [{verdict}] interests claims add < 1 ms (median): {cost.median_ms:.3f} ms, "
        f"p95 {cost.p95_ms:.3f} ms, {cost.queries} more queries"
    )
    again = next(row for row in training if "nothing changed" in row.name)
    verdict = "PASS" if again.events == 0 else "FAIL"
    print(f"  [{verdict}] a full run with nothing changed writes no events: {again.events}")
    full = training[0]
    at_size = len(shop.user_ids) >= TARGET_CUSTOMERS and shop.interactions >= TARGET_INTERACTIONS
    if at_size:
        verdict = "PASS" if full.seconds < TARGET_SECONDS and full.peak_mb < TARGET_MB else "FAIL"
        print(
            f"  [{verdict}] full training < 120 s and < 2 GB: {full.seconds:.1f} s, "
            f"peak RSS {full.peak_mb:.0f} MB"
        )
    else:
        print(
            f"  (training target < 120 s and < 2 GB at {TARGET_CUSTOMERS:,} customers x "
            f"{TARGET_INTERACTIONS:,} interactions: --customers {TARGET_CUSTOMERS} "
            f"--interactions {TARGET_INTERACTIONS})"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000, help="seeded (default 2000)")
    parser.add_argument("--interactions", type=int, default=40_000, help="seeded (default 40000)")
    parser.add_argument("--iterations", type=int, default=500, help="per claims row (500)")
    parser.add_argument("--seed", type=int, default=1, help="of the shop (1)")
    args = parser.parse_args(argv)
    customers = max(10, args.customers)
    iterations = max(20, args.iterations)
    warmup = max(10, iterations // 10)

    setup_test_environment()
    settings.DEBUG = False  # no query log
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        shop = shop_seed(customers=customers, interactions=args.interactions, seed=args.seed)
        training = training_measure(shop, seed=args.seed)
        claims = claims_measure(shop, iterations=iterations, warmup=warmup)
        print_table(argv, shop, claims, training)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
