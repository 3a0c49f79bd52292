"""What personalization learns (personalization/learning.py): pure functions, no database."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from personalization.learning import (
    Affinity,
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
    interactions_from_rows,
    ndcg_at_k,
    next_engagement_hours,
    recall_at_k,
    recommend_from_neighbours,
    relevant_items,
    scale_weight,
    time_split,
    user_item_matrix,
    write_csv,
)

WEIGHTS = {
    "purchase": 3.0,
    "campaign_click": 1.0,
    "page_view": 1.0,
    "app_open": 0.0,
    "support_contact": 0.0,
}
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()  # a Monday, 09:00 in São Paulo
DAY = 86400.0
HOUR = 3600.0
SAO_PAULO = "America/Sao_Paulo"


HALF_LIFE_DAYS = 30.0
Model = TypeVar("Model", bound=Recommender)


def _fit(model: Model, data: Interactions) -> Model:
    model.fit(data, now=NOW, half_life_days=HALF_LIFE_DAYS, weights=WEIGHTS)
    return model


def _affinities(data: Interactions, **options: Any) -> dict[int, list[Affinity]]:
    options.setdefault("min_score", 0.0)
    return affinities(data, now=NOW, half_life_days=HALF_LIFE_DAYS, weights=WEIGHTS, **options)


def _interests(data: Interactions, user: str) -> dict[tuple[str, str], float]:
    code = data.user_codes()[user]
    return {(a.kind, a.key): a.score for a in _affinities(data).get(code, [])}


def _co_bought() -> Interactions:
    """Five customers bought both a racket and its balls; one bought only a racket, another
    a tent and a stove."""
    rows = []
    for n in range(5):
        rows.append((f"fan{n}", "racket", "tennis", "Wilson", "purchase", NOW - DAY))
        rows.append((f"fan{n}", "balls", "tennis", "Wilson", "purchase", NOW - DAY))
    rows.append(("camper", "tent", "camping", "Quechua", "purchase", NOW - DAY))
    rows.append(("camper", "stove", "camping", "Quechua", "purchase", NOW - DAY))
    rows.append(("newbie", "racket", "tennis", "Wilson", "purchase", NOW - 2 * DAY))
    return interactions_from_rows(rows)


# --- Loading ---------------------------------------------------------------------------------


def test_rows_are_encoded_and_an_item_lends_its_category_to_rows_without_one() -> None:
    """Empty strings are "none" (-1); a row naming an item without its category or brand
    takes the item's latest reported ones; original user ids are kept."""
    data = interactions_from_rows(
        [
            (42, "sku-1", "shoes", "Acme", "purchase", NOW - 2 * DAY),
            (42, "sku-1", "boots", "Acme", "page_view", NOW - DAY),
            (7, "sku-1", "", "", "page_view", NOW),
            (7, "", "", "", "app_open", NOW),
        ]
    )
    assert data.user_ids == [42, 7]
    assert data.items.tolist() == [0, 0, 0, -1]
    assert data.category_keys[data.item_category[0]] == "boots"
    assert [data.category_keys[c] for c in data.categories[:3]] == ["shoes", "boots", "boots"]
    assert data.brands[3] == -1
    assert data.kind_keys[data.kinds[3]] == "app_open"


def test_csv_round_trip(tmp_path: Path) -> None:
    """Rows written as CSV (RFC 3339 times) read back the same, including quoted commas."""
    rows = [
        ("u1", "sku-1", "shoes, running", "Acme", "purchase", NOW - 1.5),
        ("u2", "", "hats", "", "page_view", NOW),
        ("u1", "", "", "", "app_open", NOW - 10 * DAY),
    ]
    path = tmp_path / "interactions.csv"
    write_csv(path, rows)
    assert path.read_text().splitlines()[0] == "user,item,category,brand,type,occurred_at"
    data = interactions_from_csv(path)

    def decode(vocabulary: list[str], code: int) -> str:
        return vocabulary[code] if code >= 0 else ""

    back = [
        (
            data.user_ids[data.users[i]],
            decode(data.item_keys, data.items[i]),
            decode(data.category_keys, data.categories[i]),
            decode(data.brand_keys, data.brands[i]),
            data.kind_keys[data.kinds[i]],
            float(data.times[i]),
        )
        for i in range(len(data))
    ]
    for got, expected in zip(back, rows, strict=True):
        assert got[:5] == expected[:5]
        assert got[5] == pytest.approx(expected[5], abs=1e-6)


def test_csv_accepts_offsets_and_epoch_seconds(tmp_path: Path) -> None:
    """occurred_at may carry any offset or be epoch seconds; columns may come in any order."""
    path = tmp_path / "export.csv"
    path.write_text(
        "type,user,item,category,brand,occurred_at,channel\n"
        "purchase,u1,sku-1,shoes,Acme,2026-03-02T09:00:00-03:00,store\n"
        f"page_view,u1,sku-2,shoes,Acme,{NOW:.0f},web\n"
        "page_view,u1,sku-2,shoes,Acme,2026-03-02T12:00:00.5Z,web\n"
    )
    data = interactions_from_csv(path)
    assert data.times.tolist() == [NOW, NOW, NOW + 0.5]
    assert data.kind_keys[data.kinds[0]] == "purchase"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("u1,sku-1,shoes,Acme,purchase,yesterday", "line 3: not an RFC 3339"),
        ("u1,sku-1,shoes,Acme,purchase,2026-03-02T09:00:00", "line 3: an RFC 3339 date-time needs"),
        ("u1,sku-1,shoes,Acme,refund,2026-03-02T09:00:00Z", "line 3: unknown type 'refund'"),
        ("u1,sku-1,shoes,purchase,2026-03-02T09:00:00Z", "line 3: 5 fields, the header has 6"),
        (",sku-1,shoes,Acme,purchase,2026-03-02T09:00:00Z", "line 3: the user is empty"),
    ],
)
def test_a_malformed_line_is_refused_with_its_number(
    tmp_path: Path, line: str, message: str
) -> None:
    """The loader stops at the first bad line and names it."""
    path = tmp_path / "bad.csv"
    path.write_text(
        "user,item,category,brand,type,occurred_at\n"
        "u1,sku-1,shoes,Acme,purchase,2026-03-02T09:00:00Z\n" + line + "\n"
    )
    with pytest.raises(ValueError, match=message):
        interactions_from_csv(path)


def test_a_header_without_a_column_is_refused(tmp_path: Path) -> None:
    """The header must name every documented column."""
    path = tmp_path / "bad.csv"
    path.write_text("user,item,category,type,occurred_at\n")
    with pytest.raises(ValueError, match="line 1: the header lacks brand"):
        interactions_from_csv(path)


# --- Interests -------------------------------------------------------------------------------


def test_a_brand_bought_three_times_ranks_above_one_viewed_once() -> None:
    """Three purchases of Acme outweigh one view of Bolt; the evidence counts rows per type;
    the strongest interest scores 1."""
    data = interactions_from_rows(
        [("u", "sku-1", "shoes", "Acme", "purchase", NOW - DAY) for _ in range(3)]
        + [("u", "sku-2", "shirts", "Bolt", "page_view", NOW - DAY)]
    )
    scores = _interests(data, "u")
    assert scores[("brand", "Acme")] == pytest.approx(1.0)
    assert scores[("brand", "Bolt")] < 0.2
    result = _affinities(data)
    acme = next(a for a in result[0] if a.key == "Acme")
    assert acme.evidence == {"purchase": 3}
    assert acme.last_at == NOW - DAY
    assert result[0][0].score >= result[0][-1].score


def test_interests_decay_with_age_and_weak_ones_are_dropped() -> None:
    """The same activity two half-lives old scores a quarter; an interest under min_score is
    not returned; zero-weight types are no evidence."""
    fresh = interactions_from_rows([("u", "sku-1", "shoes", "Acme", "purchase", NOW)])
    old = interactions_from_rows([("u", "sku-1", "shoes", "Acme", "purchase", NOW - 60 * DAY)])
    assert _interests(fresh, "u")[("brand", "Acme")] == pytest.approx(1.0)
    assert _interests(old, "u")[("brand", "Acme")] == pytest.approx(0.25)
    assert _affinities(old, min_score=0.3) == {}
    opens = interactions_from_rows([("u", "", "shoes", "Acme", "app_open", NOW)])
    assert _affinities(opens) == {}


def test_a_predicted_interest_comes_from_recommendations_and_scores_lower() -> None:
    """A category the customer never touched but that their recommendations are in is a
    predicted interest, below their own, with the customers behind it as evidence."""
    data = _co_bought()
    newbie = data.user_codes()["newbie"]
    stove = data.item_keys.index("stove")
    result = _affinities(data, min_score=0.05, predicted={newbie: [stove, -1]})
    interests = {(a.kind, a.key): a for a in result[newbie]}
    camping = interests[("category", "camping")]
    assert camping.predicted
    assert camping.evidence == {"similar_customers": 1}
    assert camping.last_at is None
    assert camping.score == pytest.approx(0.5)
    assert camping.score < interests[("category", "tennis")].score
    assert not interests[("category", "tennis")].predicted


# --- Recommendations -------------------------------------------------------------------------


def test_item_item_recommends_the_co_bought_item_because_of_the_seen_one() -> None:
    """Customers who bought the racket bought balls: a racket buyer is recommended balls,
    because of the racket, and never the racket itself."""
    data = _co_bought()
    model = _fit(ItemItemModel(neighbours=10), data)
    newbie = np.array([data.user_codes()["newbie"]])
    items, scores = model.recommend(newbie, 3)
    assert data.item_keys[items[0, 0]] == "balls"
    assert scores[0, 0] > 0
    assert data.item_keys.index("racket") not in items[0].tolist()
    assert items[0, 1:].tolist() == [-1, -1]  # nothing else co-occurs with a racket
    because = model.because(newbie, items)
    assert data.item_keys[because[0, 0]] == "racket"
    assert because[0, 1:].tolist() == [-1, -1]


def test_recommendations_from_stored_neighbours_match_the_model() -> None:
    """Rebuilt from the model's neighbours (as ItemNeighbour stores them) and a customer's
    raw weights, every customer's recommendations, scores and reasons are the model's."""
    rng = np.random.default_rng(5)
    kinds = ["purchase", "page_view", "campaign_click"]
    rows = [
        (f"u{u}", f"i{i:02d}", "", "", "page_view", NOW) for u, i in ((0, i) for i in range(15))
    ]
    rows += [
        (
            f"u{rng.integers(1, 40)}",
            f"i{rng.integers(15):02d}",
            "",
            "",
            str(rng.choice(kinds)),
            NOW - float(rng.uniform(0, 90)) * DAY,
        )
        for _ in range(300)
    ]
    data = interactions_from_rows(rows)
    model = _fit(ItemItemModel(neighbours=4, scaling="log"), data)
    stored: dict[str, list[tuple[str, float]]] = {}
    for item, neighbour, score in model.neighbours():
        stored.setdefault(data.item_keys[item], []).append((data.item_keys[neighbour], score))
    assert all(len(neighbours) <= 4 for neighbours in stored.values())
    raw = user_item_matrix(data, now=NOW, half_life_days=HALF_LIFE_DAYS, weights=WEIGHTS)
    users = np.arange(1, data.n_users, dtype=np.int32)
    items, scores = model.recommend(users, 15)
    because = model.because(users, items)
    for row, user in enumerate(users):
        own = raw.getrow(user)
        weights = {
            data.item_keys[i]: scale_weight(float(w), "log")
            for i, w in zip(own.indices, own.data, strict=True)
        }
        rebuilt = recommend_from_neighbours(weights, stored, 15, exclude=weights)
        expected = {
            data.item_keys[code]: (float(value), data.item_keys[reason])
            for code, value, reason in zip(items[row], scores[row], because[row], strict=True)
            if code >= 0
        }
        assert {key: reason for key, _, reason in rebuilt} == {
            key: reason for key, (_, reason) in expected.items()
        }
        for key, value, _ in rebuilt:
            assert value == pytest.approx(expected[key][0], rel=1e-4)


def test_popularity_excludes_what_the_customer_has_seen() -> None:
    """The most popular items come first, minus the customer's own; without exclusion the
    ranking is everyone's."""
    data = _co_bought()
    model = _fit(PopularityModel(), data)
    fan = data.user_codes()["fan0"]
    items, _ = model.recommend(np.array([fan]), 4)
    names = [data.item_keys[i] for i in items[0] if i >= 0]
    assert names == ["tent", "stove"]
    everyone, _ = model.recommend(np.array([fan]), 2, exclude_seen=False)
    assert {data.item_keys[i] for i in everyone[0]} == {"racket", "balls"}


def test_own_history_repeats_the_most_weighted_items() -> None:
    """Own history ranks the customer's items by weight and refuses to exclude them."""
    data = interactions_from_rows(
        [
            ("u", "coffee", "food", "Lavazza", "purchase", NOW - DAY),
            ("u", "coffee", "food", "Lavazza", "purchase", NOW - 2 * DAY),
            ("u", "mug", "home", "Ikea", "page_view", NOW - DAY),
        ]
    )
    model = _fit(OwnHistoryModel(), data)
    items, scores = model.recommend(np.array([0]), 3, exclude_seen=False)
    assert [data.item_keys[i] for i in items[0, :2]] == ["coffee", "mug"]
    assert items[0, 2] == -1
    assert scores[0, 0] > scores[0, 1]
    with pytest.raises(ValueError, match="exclude_seen=False"):
        model.recommend(np.array([0]), 3)


def test_als_runs_on_a_tiny_matrix() -> None:
    """ALS fits a handful of customers, recommends only unseen items (-1 past the catalogue)
    and explains with a seen item."""
    data = _co_bought()
    model = _fit(AlsModel(factors=4, iterations=5, regularization=0.01, alpha=10.0), data)
    users = np.arange(data.n_users, dtype=np.int32)
    items, scores = model.recommend(users, 6)
    assert items.shape == scores.shape == (data.n_users, 6)
    seen = model.matrix.toarray() > 0
    for user in users:
        chosen = items[user][items[user] >= 0]
        assert not seen[user, chosen].any()
        assert len(chosen) == data.n_items - seen[user].sum()
    assert (items[:, -2:] == -1).all()
    newbie = data.user_codes()["newbie"]
    because = model.because(np.array([newbie]), items[[newbie]])
    assert set(because[0][because[0] >= 0].tolist()) <= {data.item_keys.index("racket")}


# --- The best moment -------------------------------------------------------------------------


def _rhythms() -> Interactions:
    """Five customers active at 20h São Paulo time, one at 9h on Mondays, one in Tokyo at 9h
    (00:00Z), and one whose only row is removed (known, no interactions)."""
    rows = []
    evening = NOW + 11 * HOUR  # 20:00 in São Paulo (UTC-3)
    for n in range(5):
        rows += [(f"evening{n}", "", "", "", "app_open", evening - d * DAY) for d in range(20)]
    rows += [("morning", "", "", "", "page_view", NOW - w * 7 * DAY) for w in range(30)]
    rows += [("tokyo", "", "", "", "app_open", NOW - 12 * HOUR - d * DAY) for d in range(30)]
    rows.append(("newcomer", "", "", "", "app_open", NOW))
    data = interactions_from_rows(rows)
    keep = data.users != data.user_codes()["newcomer"]
    return data.subset(keep)


def test_an_active_customer_gets_their_own_hours_and_a_new_one_the_populations() -> None:
    """Thirty interactions at 9h outweigh the population's evenings; a customer with none
    gets the population's best hours and is marked as coming from the prior."""
    data = _rhythms()
    codes = data.user_codes()
    moments = best_moment(data, time_zone=SAO_PAULO, prior_strength=10.0)
    assert moments.hours[codes["morning"]][0] == 9
    assert moments.weekdays[codes["morning"]][0] == 1  # Mondays
    assert not moments.from_prior[codes["morning"]]
    population = global_best_hours(data, SAO_PAULO)
    assert population[0] == 20
    assert moments.hours[codes["newcomer"]].tolist() == population
    assert moments.from_prior[codes["newcomer"]]
    assert moments.interactions[codes["newcomer"]] == 0


def test_local_hours_follow_each_customers_time_zone() -> None:
    """Midnight UTC is 9h in Tokyo: a per-customer zone moves that customer's hours only."""
    data = _rhythms()
    codes = data.user_codes()
    everyone_here = best_moment(data, time_zone=SAO_PAULO, prior_strength=1.0)
    assert everyone_here.hours[codes["tokyo"]][0] == 21
    zoned = best_moment(
        data,
        time_zone=SAO_PAULO,
        prior_strength=1.0,
        user_time_zones={codes["tokyo"]: "Asia/Tokyo"},
    )
    assert zoned.hours[codes["tokyo"]][0] == 9
    assert zoned.hours[codes["morning"]][0] == 9


def test_a_few_interactions_yield_to_the_prior() -> None:
    """With fewer interactions than the prior strength, the population's hours win."""
    rows = [
        (f"p{n}", "", "", "", "app_open", NOW + 11 * HOUR - d * DAY)
        for n in range(5)
        for d in range(10)
    ]
    rows.append(("shy", "", "", "", "app_open", NOW - 6 * HOUR))  # 3h in São Paulo
    data = interactions_from_rows(rows)
    shy = data.user_codes()["shy"]
    weak = best_moment(data, time_zone=SAO_PAULO, prior_strength=10.0)
    assert weak.hours[shy][0] == 20
    assert weak.from_prior[shy]
    strong = best_moment(data, time_zone=SAO_PAULO, prior_strength=0.1)
    assert strong.hours[shy][0] == 3


# --- Evaluation ------------------------------------------------------------------------------


def test_time_split_and_relevance_of_the_next_new_item() -> None:
    """Train is before the cutoff and test after; relevant items are the new ones of warm
    customers (a repeat and a cold customer's item are not)."""
    data = interactions_from_rows(
        [
            ("u", "a", "", "", "purchase", NOW - 3 * DAY),
            ("u", "a", "", "", "purchase", NOW),
            ("u", "b", "", "", "page_view", NOW),
            ("u", "", "", "", "app_open", NOW),
            ("cold", "c", "", "", "purchase", NOW),
        ]
    )
    train, test, cutoff = time_split(data, cutoff=NOW - DAY)
    assert cutoff == NOW - DAY
    assert len(train) == 1
    assert len(test) == 4
    assert train.item_keys is data.item_keys
    users, relevant = relevant_items(train, test, weights=WEIGHTS)
    assert [data.user_ids[u] for u in users] == ["u"]
    assert [data.item_keys[i] for i in relevant[0]] == ["b"]
    users, relevant = relevant_items(train, test, weights=WEIGHTS, new_items_only=False)
    assert [data.item_keys[i] for i in relevant[0]] == ["a", "b"]
    _, _, quantile = time_split(data, test_fraction=0.5)
    assert quantile == NOW


def test_recall_and_ndcg_on_hand_computed_examples() -> None:
    """Two hits at ranks 2 and 4 of three relevant items: recall 2/3 and NDCG =
    (1/log2 3 + 1/log2 5) / (1 + 1/log2 3 + 1/log2 4); a hit at rank 1 of one relevant item
    scores 1; -1 never hits."""
    recommended = np.array([[5, 1, 7, 2], [9, -1, -1, -1], [-1, -1, -1, -1]], dtype=np.int32)
    relevant = [np.array([1, 2, 9]), np.array([9]), np.array([3])]
    recall = recall_at_k(recommended, relevant, 4)
    assert recall.tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    ndcg = ndcg_at_k(recommended, relevant, 4)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert ndcg.tolist() == pytest.approx([expected, 1.0, 0.0])
    assert recall_at_k(recommended, relevant, 1).tolist() == pytest.approx([0.0, 1.0, 0.0])
    # More relevant items than k: the ideal ranking fills the k slots.
    assert ndcg_at_k(np.array([[1, 2]]), [np.array([1, 2, 3])], 2)[0] == pytest.approx(1.0)


def test_hour_hits_and_next_engagement() -> None:
    """A customer's first test hour is a hit when among their predicted hours; customers
    without a test row are left out."""
    data = interactions_from_rows(
        [
            ("a", "", "", "", "app_open", NOW + HOUR),  # 10h
            ("a", "", "", "", "app_open", NOW),  # 9h, first
            ("b", "", "", "", "app_open", NOW + 11 * HOUR),  # 20h
            ("c", "", "", "", "app_open", NOW - DAY),
        ]
    )
    _, test, _ = time_split(data, cutoff=NOW - HOUR)
    upcoming = next_engagement_hours(test, SAO_PAULO)
    assert upcoming.tolist() == [9, 20, -1]
    predicted = np.array([[9, 10, 11], [8, 9, 10], [20, 21, 22]])
    assert hour_hit_rate(predicted, upcoming).tolist() == [1.0, 0.0]
    assert hour_hit_rate(np.array([20, 21, 19]), upcoming).tolist() == [0.0, 1.0]


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_customers() -> None:
    """The 95% interval holds the sample mean, is reproducible with its seed and is narrower
    for a larger sample."""
    rng = np.random.default_rng(3)
    small = rng.random(100)
    mean, low, high = bootstrap_ci(small, n=500, seed=1)
    assert mean == pytest.approx(small.mean())
    assert low < mean < high
    assert bootstrap_ci(small, n=500, seed=1) == (mean, low, high)
    large = rng.random(10_000)
    _, large_low, large_high = bootstrap_ci(large, n=500, seed=1)
    assert large_high - large_low < (high - low) / 5
    assert all(math.isnan(value) for value in bootstrap_ci([], n=10))
