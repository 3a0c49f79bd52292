"""What personalization learns, offline: next-item recommendations and the best moment.

Pure Python and numpy (``personalization/learning.py``), no Django, no database, no server:
``.venv/bin/python benchmarks/personalization.py [--full] [--users N --interactions M]
[--csv PATH] [--seed S] [--tune]``. About 40 s by default (20,000 customers, 200,000
interactions), about 4 minutes with ``--full`` (100,000 customers, 1,000,000 interactions),
on 2 idle cores; ``--tune`` adds about 2 minutes at the default size. Timings move with the
machine's load (printed in the first line); the quality figures are seeded and do not.

The synthetic shop (seeded; each assumption a guess at a typical retailer)
    - Items: ``customers / 5`` (at least 300), each in one of 40 categories and of one of 150
      brands; a brand sells in one to three categories, brands have long-tailed sizes, and
      items long-tailed base popularity (lognormal, sigma 1.2). Items of one category and
      brand form product lines of four (a phone, its case, its charger...).
    - 16 taste clusters, each favouring a few categories and, within them, a few brands
      (Dirichlet(0.1) preferences; an item's weight in a cluster is its base popularity x
      the cluster's preference for its category x (0.05 + that for its brand)). A customer
      is a Dirichlet(0.25) mixture of clusters (one to three tastes); 15% of their item
      interactions ignore taste and follow plain popularity.
    - Product lines: 25% of a customer's item interactions after their first take another
      item of the line of their previous one (what they took with it or next).
    - Activity: interactions per customer are long-tailed (lognormal, sigma 1); each customer
      is active from a day in the last 180 days, to today (80%) or to a random later day.
    - Interaction types: item page views 60%, purchases 25%, campaign clicks 15%; plus
      category page views without an item (5% of all rows) and app opens and support
      contacts (8%) that name nothing. 20% of item interactions after a customer's first are
      repeats of one of their earlier items (a purchase 70% of the time).
    - Rhythms: each customer has a preferred hour (morning 8h 25%, lunch 12h30 20%, evening
      20h 40%, night 23h 15%, plus a personal shift, sd 45 min); 75% of their interactions
      fall around it (sd 1.2 h), the rest at any hour. Weekday customers (70%) are half as
      active at weekends; weekend ones twice as active then. Local time is
      America/Sao_Paulo (UTC-3, no daylight saving time since 2019).

    The shop is written as CSV in the documented format (personalization/learning.py) to a
    temporary file and read back with ``interactions_from_csv``, the path a real export
    takes; ``--csv PATH`` evaluates such an export instead.

Measured
    - Recommendations, on a time split (the last 20% of rows are the test): per customer with
      training evidence, recall@10 and NDCG@10 over the full catalogue of (a) the next new
      item (seen items excluded; relevant: items the customer took after the cutoff and not
      before) and (b) any next item (repeats count, seen items allowed), for recency-weighted
      popularity, the customer's own history (b only), item-item and ALS; means with 95%
      bootstrap intervals over customers (1,000 resamples).
    - The best moment: for each customer active after the cutoff, whether the local hour of
      their first interaction after it is among their predicted top 3 hours (``best_moment``
      fit on the training rows), against the population's top 3 hours.
    - Cost, on all rows: seconds and the peak of traced memory (``tracemalloc``: numpy,
      scipy and Python allocations, measured in a second pass so that tracing does not slow
      the timed one) of loading the CSV, the interests, item-item (fit; recommendations and
      their reasons for every customer), ALS (the same) and the best moment; the process's
      peak RSS at the end.

Targets
    - The chosen model (best NDCG@10 on the next new item among item-item and ALS whose
      interval's lower bound is above popularity's upper bound) beats popularity by a clear
      margin: the intervals do not overlap.
    - The best moment beats the population's hours: the intervals do not overlap.
    - Training everything (interests, item-item, ALS, best moment) on 1M interactions fits a
      nightly run: under 120 s and 2 GB traced.

Tuning (``--tune``): the training rows are split again in time (the last 20% validate) and a
small grid is searched on NDCG@10 of the next new item: item-item neighbours {20, 50, 100,
200} (each neighbour is a stored row: beyond 200, NDCG@10 grew by only 1-3% for 2-4 times
the rows) x scaling of the summed weights {linear, log1p, binary}; ALS factors {64, 128, 256}
x regularization {10, 100, 300} x alpha {5, 20, 50, 100} (15 iterations; a first grid of
factors {32, 64, 128} x regularization {0.05, 1, 10, 100} x alpha {1, 5, 20} had its best
at its edge); and the best moment's hour spread {0, 0.25} x prior strength {1, 3, 10, 30}
on its hit rate. The chosen values are then evaluated on the test split. Without ``--tune``
the defaults below are the ones that grid chose on the default shop.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# implicit's threads do the ALS work; BLAS threads on top of them only contend.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from personalization.learning import (  # noqa: E402
    AlsModel,
    Interactions,
    ItemItemModel,
    OwnHistoryModel,
    PopularityModel,
    Recommender,
    affinities,
    best_moment,
    bootstrap_ci,
    global_best_hours,
    hour_hit_rate,
    interactions_from_csv,
    ndcg_at_k,
    next_engagement_hours,
    recall_at_k,
    relevant_items,
    time_split,
    write_csv,
)

# As personalization/app_settings.py has them (that module needs Django).
TYPE_WEIGHTS = {
    "purchase": 3.0,
    "campaign_click": 1.0,
    "page_view": 1.0,
    "app_open": 0.0,
    "support_contact": 0.0,
}
HALF_LIFE_DAYS = 45.0
MIN_SCORE = 0.05
TIME_ZONE = "America/Sao_Paulo"
K = 10
BEST_HOURS = 3
TEST_FRACTION = 0.2
BOOTSTRAP = 1000
TARGET_SECONDS = 120.0
TARGET_MB = 2048.0

# Chosen by --tune on the default shop (seed 1); see the module docstring.
ITEM_ITEM: dict[str, Any] = {"neighbours": 200, "scaling": "binary"}
ALS: dict[str, Any] = {"factors": 256, "regularization": 100.0, "alpha": 50.0}
MOMENT: dict[str, float] = {"prior_strength": 1.0, "hour_spread": 0.25}
# Neighbours kept per item are rows of ItemNeighbour: the grid stops at 200 (beyond it,
# NDCG@10 grew by 1-3% for 2-4 times the rows on the default shop).
NEIGHBOUR_GRID = (20, 50, 100, 200)

# The synthetic shop (see the module docstring).
WORLD: dict[str, Any] = {
    "clusters": 16,
    "category_concentration": 0.1,
    "brand_concentration": 0.1,
    "brand_floor": 0.05,
    "popularity_sigma": 1.2,
    "mixture_concentration": 0.25,
    "companion": 0.25,
}
LINE = 4
NOISE = 0.15  # share of item rows that follow plain popularity, not taste
NOW = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
LOCAL_OFFSET = -3 * 3600.0  # America/Sao_Paulo


# --------------------------------------------------------------------------------------------
# The synthetic shop


def generate_shop(users: int, interactions: int, seed: int) -> list[tuple[Any, ...]]:
    """The shop in the docstring: rows ``(user, item, category, brand, type, epoch)``."""
    rng = np.random.default_rng(seed)
    n_items = max(300, users // 5)
    n_categories, n_brands, n_clusters = 40, 150, WORLD["clusters"]

    brand_categories = [
        rng.choice(n_categories, size=int(rng.integers(1, 4)), replace=False)
        for _ in range(n_brands)
    ]
    brand_size = rng.pareto(1.2, n_brands) + 1.0
    item_brand = rng.choice(n_brands, size=n_items, p=brand_size / brand_size.sum())
    choice = rng.random(n_items)
    item_category = np.array(
        [
            brand_categories[b][int(c * len(brand_categories[b]))]
            for b, c in zip(item_brand.tolist(), choice.tolist(), strict=True)
        ]
    )
    base = rng.lognormal(0.0, WORLD["popularity_sigma"], n_items)
    # Product lines: items of one category and brand, in runs of LINE (a phone, its case...).
    line_order = np.lexsort((rng.random(n_items), item_brand, item_category))
    line_position = np.empty(n_items, dtype=np.int64)
    line_position[line_order] = np.arange(n_items)
    line_start = line_position - line_position % LINE
    line_size = np.minimum(LINE, n_items - line_start)

    category_taste = rng.dirichlet(
        np.full(n_categories, WORLD["category_concentration"]), n_clusters
    )
    brand_taste = (
        rng.dirichlet(np.full(n_brands, WORLD["brand_concentration"]), n_clusters) * n_brands
    )
    cluster_item = (
        base
        * category_taste[:, item_category]
        * (WORLD["brand_floor"] + brand_taste[:, item_brand])
    )
    cluster_cdf = np.cumsum(cluster_item / cluster_item.sum(axis=1, keepdims=True), axis=1)
    popular_cdf = np.cumsum(base / base.sum())

    mixture = rng.dirichlet(np.full(n_clusters, WORLD["mixture_concentration"]), users)
    mixture_cdf = np.cumsum(mixture, axis=1)

    activity = rng.lognormal(0.0, 1.0, users)
    counts = 1 + rng.poisson(activity / activity.sum() * max(0, interactions - users))
    total = int(counts.sum())
    user = np.repeat(np.arange(users), counts)

    # Active windows (days since the epoch, local time), rhythms.
    today = math.floor((NOW + LOCAL_OFFSET) / 86400.0)
    start = today - rng.uniform(5.0, 180.0, users)
    end = np.where(rng.random(users) < 0.8, today, rng.uniform(start, today))
    centres = np.array([8.0, 12.5, 20.0, 23.0])
    group = rng.choice(4, size=users, p=[0.25, 0.2, 0.4, 0.15])
    centre = centres[group] + rng.normal(0.0, 0.75, users)
    weekend_person = rng.random(users) < 0.3
    day_weights = np.where(weekend_person[:, None], [1, 1, 1, 1, 1, 2, 2], [2, 2, 2, 2, 2, 1, 1])
    day_cdf = np.cumsum(day_weights / day_weights.sum(axis=1, keepdims=True), axis=1)

    # Day: a random week in the window and a weekday from the customer's preference.
    span = np.maximum(end - start, 1.0)
    day = np.floor(start[user] + rng.random(total) * span[user])
    iso_weekday = (rng.random(total)[:, None] > day_cdf[user]).sum(axis=1) + 1
    current = (day.astype(np.int64) + 3) % 7 + 1
    day = day + (iso_weekday - current)
    day = np.minimum(day, today)
    hour = (
        np.where(
            rng.random(total) < 0.75,
            centre[user] + rng.normal(0.0, 1.2, total),
            rng.uniform(0.0, 24.0, total),
        )
        % 24.0
    )
    local = day * 86400.0 + hour * 3600.0
    epoch = np.minimum(local - LOCAL_OFFSET, NOW - 1.0)

    # What each row is.
    kind = rng.random(total)
    no_item = kind < 0.13  # 5% category page views, 8% app opens and support contacts
    category_view = kind < 0.05
    support = (kind >= 0.05) & (kind < 0.06)
    cluster = (rng.random(total)[:, None] > mixture_cdf[user]).sum(axis=1)
    cluster = np.minimum(cluster, n_clusters - 1)
    item = np.empty(total, dtype=np.int64)
    noisy = rng.random(total) < NOISE
    draws = rng.random(total)
    item[noisy] = np.searchsorted(popular_cdf, draws[noisy])
    for k in range(n_clusters):
        rows = np.flatnonzero((cluster == k) & ~noisy)
        item[rows] = np.searchsorted(cluster_cdf[k], draws[rows])
    item = np.minimum(item, n_items - 1)
    item_type = rng.choice(3, size=total, p=[0.6, 0.25, 0.15])  # view, purchase, click

    # Repeats: in each customer's time order, 20% of item rows after the first take the item
    # of a random earlier row of theirs.
    order = np.lexsort((epoch, user))
    user, epoch, item, item_type = user[order], epoch[order], item[order], item_type[order]
    no_item, category_view, support = no_item[order], category_view[order], support[order]
    first_row = np.r_[0, np.cumsum(counts)[:-1]]
    position = np.arange(total) - first_row[user]
    repeat = (position > 0) & (rng.random(total) < 0.2) & ~no_item
    source = first_row[user] + np.floor(rng.random(total) * np.maximum(position, 1)).astype(
        np.int64
    )
    # Companions: a share of the item rows after a customer's first take another item of
    # the product line of their previous item row.
    item_rows = np.flatnonzero(~no_item)
    previous = np.full(total, -1, dtype=np.int64)
    same = user[item_rows[1:]] == user[item_rows[:-1]]
    previous[item_rows[1:][same]] = item_rows[:-1][same]
    companion = (previous >= 0) & ~repeat & (rng.random(total) < WORLD["companion"])
    step = rng.integers(1, LINE, total)

    def companion_of(items: np.ndarray, steps: np.ndarray) -> np.ndarray:
        start, size = line_start[items], line_size[items]
        offset = (line_position[items] - start + np.maximum(steps % size, 1)) % size
        result: np.ndarray = line_order[start + offset]
        return result

    for _ in range(500):  # repeats and companions of earlier ones: resolve chains backwards
        before = item.copy()
        item[repeat] = item[source[repeat]]
        item[companion] = companion_of(item[previous[companion]], step[companion])
        if np.array_equal(before, item):
            break
    item_type[repeat] = np.where(rng.random(int(repeat.sum())) < 0.7, 1, 0)

    type_names = np.array(["page_view", "purchase", "campaign_click"])
    types = type_names[item_type].astype(object)
    types[no_item] = "app_open"
    types[support] = "support_contact"
    types[category_view] = "page_view"
    item_names = np.array([f"sku-{i:06d}" for i in range(n_items)], dtype=object)
    category_names = np.array([f"category-{c:02d}" for c in range(n_categories)], dtype=object)
    brand_names = np.array([f"brand-{b:03d}" for b in range(n_brands)], dtype=object)
    row_item = item_names[item]
    row_category = category_names[item_category[item]]
    row_brand = brand_names[item_brand[item]]
    row_item[no_item] = ""
    row_brand[no_item] = ""
    row_category[no_item & ~category_view] = ""
    user_names = np.array([f"customer-{u:06d}" for u in range(users)], dtype=object)
    epoch = np.round(epoch)
    return list(
        zip(
            user_names[user].tolist(),
            row_item.tolist(),
            row_category.tolist(),
            row_brand.tolist(),
            types.tolist(),
            epoch.tolist(),
            strict=True,
        )
    )


# --------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class Score:
    label: str
    recall: tuple[float, float, float]
    ndcg: tuple[float, float, float]
    per_customer: np.ndarray  # NDCG@10 of each evaluated customer


def fit_model(model: Recommender, data: Interactions, now: float) -> Recommender:
    return model.fit(data, now=now, half_life_days=HALF_LIFE_DAYS, weights=TYPE_WEIGHTS)


def score_model(
    model: Recommender,
    users: np.ndarray,
    relevant: list[np.ndarray],
    *,
    exclude_seen: bool,
    seed: int,
) -> tuple[tuple[float, float, float], tuple[float, float, float], np.ndarray]:
    items, _scores = model.recommend(users, K, exclude_seen=exclude_seen)
    recall = recall_at_k(items, relevant, K)
    ndcg = ndcg_at_k(items, relevant, K)
    return (
        bootstrap_ci(recall, BOOTSTRAP, seed),
        bootstrap_ci(ndcg, BOOTSTRAP, seed),
        ndcg,
    )


def item_item(params: dict[str, Any]) -> ItemItemModel:
    return ItemItemModel(int(params["neighbours"]), scaling=str(params["scaling"]))


def als(params: dict[str, Any], seed: int) -> AlsModel:
    return AlsModel(
        factors=int(params["factors"]),
        regularization=float(params["regularization"]),
        alpha=float(params["alpha"]),
        seed=seed,
    )


def describe_item_item(params: dict[str, Any]) -> str:
    return f"item-item ({params['neighbours']} neighbours, {params['scaling']})"


def describe_als(params: dict[str, Any]) -> str:
    return (
        f"ALS ({params['factors']} factors, reg {params['regularization']}, "
        f"alpha {params['alpha']})"
    )


def tune(data: Interactions, seed: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """The grid of the module docstring on a validation split of ``data`` (the training rows)."""
    inner, validation, cutoff = time_split(data, test_fraction=TEST_FRACTION)
    users, relevant = relevant_items(inner, validation, weights=TYPE_WEIGHTS)
    print(f"Tuning on a validation split: {len(inner):,} rows, {len(users):,} customers")

    def ndcg_of(model: Recommender) -> float:
        fit_model(model, inner, cutoff)
        items, _ = model.recommend(users, K)
        return float(ndcg_at_k(items, relevant, K).mean())

    best_item_item: tuple[float, dict[str, Any]] = (-1.0, {})
    for neighbours in NEIGHBOUR_GRID:
        for scaling in ("linear", "log", "binary"):
            params: dict[str, Any] = {"neighbours": neighbours, "scaling": scaling}
            value = ndcg_of(item_item(params))
            print(f"  {describe_item_item(params):<52} NDCG@10 {value:.4f}")
            best_item_item = max(best_item_item, (value, params), key=lambda pair: pair[0])
    best_als: tuple[float, dict[str, Any]] = (-1.0, {})
    for factors in (64, 128, 256):
        for regularization in (10.0, 100.0, 300.0):
            for alpha in (5.0, 20.0, 50.0, 100.0):
                params = {"factors": factors, "regularization": regularization, "alpha": alpha}
                value = ndcg_of(als(params, seed))
                print(f"  {describe_als(params):<52} NDCG@10 {value:.4f}")
                best_als = max(best_als, (value, params), key=lambda pair: pair[0])
    upcoming = next_engagement_hours(validation, TIME_ZONE)
    active = np.flatnonzero(upcoming >= 0)
    best_moment_params: tuple[float, dict[str, float]] = (-1.0, {})
    for spread in (0.0, 0.25):
        for strength in (1.0, 3.0, 10.0, 30.0):
            moments = best_moment(
                inner, time_zone=TIME_ZONE, prior_strength=strength, hour_spread=spread
            )
            rate = float(hour_hit_rate(moments.hours[active], upcoming[active]).mean())
            label = f"best moment, hour spread {spread:g}, prior strength {strength:g}"
            print(f"  {label:<52} hit rate {rate:.4f}")
            params = {"prior_strength": strength, "hour_spread": spread}
            best_moment_params = max(best_moment_params, (rate, params), key=lambda pair: pair[0])
    return best_item_item[1], best_als[1], best_moment_params[1]


# --------------------------------------------------------------------------------------------
# Cost


def measure(stages: list[tuple[str, Callable[[], object]]]) -> list[tuple[str, float, float]]:
    """Seconds of each stage (untraced), then its traced peak in MB (a second pass)."""
    seconds: list[float] = []
    for _label, run in stages:
        gc.collect()
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    peaks: list[float] = []
    for _label, run in stages:
        gc.collect()
        tracemalloc.start()
        run()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peaks.append(peak / 2**20)
    return [(label, s, p) for (label, _), s, p in zip(stages, seconds, peaks, strict=True)]


def cost_stages(
    path: Path, data: Interactions, now: float, seed: int
) -> list[tuple[str, Callable[[], object]]]:
    everyone = np.arange(data.n_users, dtype=np.int32)
    state: dict[str, Any] = {}

    def fit_item_item() -> None:
        state["item_item"] = fit_model(item_item(ITEM_ITEM), data, now)

    def recommend_with(name: str) -> Callable[[], object]:
        def run() -> object:
            model = state[name]
            items, _ = model.recommend(everyone, K)
            state[f"{name}_items"] = items
            return model.because(everyone, items)

        return run

    def predicted_interests() -> object:
        items = state["item_item_items"]
        return affinities(
            data,
            now=now,
            half_life_days=HALF_LIFE_DAYS,
            weights=TYPE_WEIGHTS,
            min_score=MIN_SCORE,
            predicted={int(user): row.tolist() for user, row in zip(everyone, items, strict=True)},
        )

    def fit_als() -> None:
        state["als"] = fit_model(als(ALS, seed), data, now)

    return [
        ("load CSV (interactions_from_csv)", lambda: interactions_from_csv(path)),
        (
            "interests (affinities)",
            lambda: affinities(
                data,
                now=now,
                half_life_days=HALF_LIFE_DAYS,
                weights=TYPE_WEIGHTS,
                min_score=MIN_SCORE,
            ),
        ),
        ("item-item fit", fit_item_item),
        ("item-item recommend + because, every customer", recommend_with("item_item")),
        ("interests + predicted ones (item-item's)", predicted_interests),
        ("ALS fit", fit_als),
        ("ALS recommend + because, every customer", recommend_with("als")),
        (
            "best moment",
            lambda: best_moment(
                data,
                time_zone=TIME_ZONE,
                prior_strength=MOMENT["prior_strength"],
                hour_spread=MOMENT["hour_spread"],
            ),
        ),
    ]


# --------------------------------------------------------------------------------------------
# Report


def interval(values: tuple[float, float, float]) -> str:
    mean, low, high = values
    return f"{mean:.4f} [{low:.4f}, {high:.4f}]"


def overlap_free(better: tuple[float, float, float], other: tuple[float, float, float]) -> bool:
    return better[1] > other[2]


def main(argv: list[str]) -> int:
    global ITEM_ITEM, ALS, MOMENT
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--full", action="store_true", help="100,000 customers, 1M interactions")
    parser.add_argument("--users", type=int, help="customers of the synthetic shop (20,000)")
    parser.add_argument("--interactions", type=int, help="interactions of the shop (200,000)")
    parser.add_argument("--csv", type=Path, help="evaluate this export instead of a shop")
    parser.add_argument("--seed", type=int, default=1, help="of the shop and ALS (1)")
    parser.add_argument("--tune", action="store_true", help="search the grid first")
    args = parser.parse_args(argv)
    users = args.users or (100_000 if args.full else 20_000)
    interactions = args.interactions or (1_000_000 if args.full else 200_000)

    started = time.perf_counter()
    temporary: tempfile.TemporaryDirectory[str] | None = None
    if args.csv:
        path = args.csv
        source = f"{path}"
    else:
        temporary = tempfile.TemporaryDirectory(prefix="personalization-")
        path = Path(temporary.name) / "interactions.csv"
        rows = generate_shop(users, interactions, args.seed)
        write_csv(path, rows)
        del rows
        source = f"synthetic shop, seed {args.seed}"
    try:
        data = interactions_from_csv(path)
        now = float(data.times.max()) if len(data) else NOW
        if args.csv is None:
            now = NOW
        print(
            f"Personalization, offline ({source}): {data.n_users:,} customers, "
            f"{len(data):,} interactions, {data.n_items:,} items; load average "
            + ", ".join(f"{value:.1f}" for value in os.getloadavg())
            + f" on {os.cpu_count()} cores"
        )
        train, test, cutoff = time_split(data, test_fraction=TEST_FRACTION)
        if args.tune:
            ITEM_ITEM, ALS, MOMENT = tune(train, args.seed)

        new_users, new_relevant = relevant_items(train, test, weights=TYPE_WEIGHTS)
        any_users, any_relevant = relevant_items(
            train, test, weights=TYPE_WEIGHTS, new_items_only=False
        )
        cut = datetime.fromtimestamp(cutoff, UTC).strftime("%Y-%m-%d %H:%M")
        print(
            f"Time split at {cut} UTC: train {len(train):,} rows, test {len(test):,}; "
            f"evaluated {len(new_users):,} customers (next new item), {len(any_users):,} "
            f"(any next item)"
        )

        models: list[tuple[str, Recommender]] = [
            ("popularity (recency-weighted)", PopularityModel()),
            ("own history", OwnHistoryModel()),
            (describe_item_item(ITEM_ITEM), item_item(ITEM_ITEM)),
            (describe_als(ALS), als(ALS, args.seed)),
        ]
        new_scores: list[Score] = []
        any_scores: list[Score] = []
        for label, model in models:
            fit_model(model, train, cutoff)
            if not isinstance(model, OwnHistoryModel):
                recall, ndcg, per_customer = score_model(
                    model, new_users, new_relevant, exclude_seen=True, seed=args.seed
                )
                new_scores.append(Score(label, recall, ndcg, per_customer))
            recall, ndcg, per_customer = score_model(
                model, any_users, any_relevant, exclude_seen=False, seed=args.seed
            )
            any_scores.append(Score(label, recall, ndcg, per_customer))

        upcoming = next_engagement_hours(test, TIME_ZONE)
        active = np.flatnonzero(upcoming >= 0)
        moments = best_moment(
            train,
            time_zone=TIME_ZONE,
            prior_strength=MOMENT["prior_strength"],
            hour_spread=MOMENT["hour_spread"],
        )
        population = global_best_hours(
            train, TIME_ZONE, BEST_HOURS, hour_spread=MOMENT["hour_spread"]
        )
        strength = MOMENT["prior_strength"]
        own_hits = hour_hit_rate(moments.hours[active], upcoming[active])
        prior_hits = hour_hit_rate(np.array(population), upcoming[active])
        informed = ~moments.from_prior[active]
        moment_rows = [
            (
                f"population's hours {', '.join(map(str, population))}",
                bootstrap_ci(prior_hits, BOOTSTRAP, args.seed),
                len(active),
            ),
            (
                f"best_moment, prior strength {strength:g}, hour spread {MOMENT['hour_spread']:g}",
                bootstrap_ci(own_hits, BOOTSTRAP, args.seed),
                len(active),
            ),
            (
                f"  customers with >= {strength:g} train interactions",
                bootstrap_ci(own_hits[informed], BOOTSTRAP, args.seed),
                int(informed.sum()),
            ),
            (
                "  population's hours, same customers",
                bootstrap_ci(prior_hits[informed], BOOTSTRAP, args.seed),
                int(informed.sum()),
            ),
            (
                "  customers with fewer (from_prior)",
                bootstrap_ci(own_hits[~informed], BOOTSTRAP, args.seed),
                int((~informed).sum()),
            ),
        ]

        costs = measure(cost_stages(path, data, now, args.seed))
    finally:
        if temporary is not None:
            temporary.cleanup()

    width = 54
    print()
    print(
        f"  {'next new item (seen excluded), full catalogue':<{width}} "
        f"{'recall@10 [95% CI]':<26} NDCG@10 [95% CI]"
    )
    for score in new_scores:
        print(f"  {score.label:<{width}} {interval(score.recall):<26} {interval(score.ndcg)}")
    print(
        f"  {'any next item (repeats count, seen allowed)':<{width}} "
        f"{'recall@10 [95% CI]':<26} NDCG@10 [95% CI]"
    )
    for score in any_scores:
        print(f"  {score.label:<{width}} {interval(score.recall):<26} {interval(score.ndcg)}")
    print()
    print(
        f"  {'best moment: next engagement hour in the top 3':<{width}} "
        f"{'hit rate [95% CI]':<26} customers"
    )
    for label, values, count in moment_rows:
        print(f"  {label:<{width}} {interval(values):<26} {count:,}")
    print()
    print(f"  {f'cost, all {len(data):,} rows':<{width}} {'seconds':>9} {'peak MB (traced)':>17}")
    for label, seconds, peak in costs:
        print(f"  {label:<{width}} {seconds:9.2f} {peak:17.1f}")
    # Interests are counted once (with the predicted ones), as a nightly run computes them.
    training = [row for row in costs if not row[0].startswith(("load", "interests (affinities)"))]
    train_seconds = sum(row[1] for row in training)
    train_peak = max(row[2] for row in training)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  {'training in all (interests, models, best moment)':<{width}} "
        f"{train_seconds:9.2f} {train_peak:17.1f}"
    )
    print(f"  process peak RSS {rss:,.0f} MB; whole run {time.perf_counter() - started:.0f} s")
    print()

    popularity = new_scores[0]
    candidates = [s for s in new_scores[1:] if overlap_free(s.ndcg, popularity.ndcg)]
    chosen = max(candidates, key=lambda s: s.ndcg[0]) if candidates else None
    best = max(new_scores[1:], key=lambda s: s.ndcg[0])
    if chosen is not None:
        print(f"  chosen model: {chosen.label} (best NDCG@10 whose interval is above popularity's)")
    else:
        print("  chosen model: none beats popularity clearly; popularity stays")
    others = [s for s in new_scores[1:] if s is not best]
    for other in others:
        difference = bootstrap_ci(best.per_customer - other.per_customer, BOOTSTRAP, args.seed)
        if overlap_free(best.ndcg, other.ndcg):
            relation = "beats"
        elif difference[1] > 0:
            relation = "overlaps, but is paired-better than,"
        else:
            relation = "does not separate from"
        print(
            f"  {best.label} {relation} {other.label} on NDCG@10; paired difference "
            f"{difference[0]:+.4f} [{difference[1]:+.4f}, {difference[2]:+.4f}]"
        )
    verdict = "PASS" if chosen is not None else "FAIL"
    shown = chosen or best
    print(
        f"  [{verdict}] chosen model beats popularity: NDCG@10 {interval(shown.ndcg)} vs "
        f"{interval(popularity.ndcg)} (intervals must not overlap)"
    )
    own, prior = moment_rows[1][1], moment_rows[0][1]
    verdict = "PASS" if overlap_free(own, prior) else "FAIL"
    print(
        f"  [{verdict}] best moment beats the population's hours: hit rate {interval(own)} vs "
        f"{interval(prior)} (intervals must not overlap)"
    )
    scale = 1_000_000 / max(len(data), 1)
    projected = train_seconds * scale
    verdict = "PASS" if train_seconds < TARGET_SECONDS and train_peak < TARGET_MB else "FAIL"
    note = "" if scale < 1.5 else f" (x{scale:.0f} rows: about {projected:.0f} s)"
    print(
        f"  [{verdict}] training cost {train_seconds:.1f} s, {train_peak:.0f} MB traced{note} "
        f"(target on 1M interactions: < {TARGET_SECONDS:.0f} s, < {TARGET_MB:.0f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
