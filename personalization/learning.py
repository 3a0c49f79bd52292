"""What personalization learns from consented interactions: pure algorithms, no database.

The training command reads ``Interaction`` rows, turns each into one or more rows of
``(user_id, item, category, brand, type, epoch_seconds)`` and calls the functions here; it
writes what they return into ``Interest``, ``Insight``, ``CatalogueItem`` and
``ItemNeighbour``. Nothing here imports Django, so the same code runs in the offline
evaluation (benchmarks/personalization.py) on an exported file.

Rows
    An interaction names an item by ``properties.item`` (its SKU), with
    ``properties.category`` and ``properties.brand``; a purchase of several items carries
    ``properties.items`` (a list of ``{"item", "category", "brand"}``) and becomes one row per
    item, all with the purchase's type and time. Empty strings mean "none": an app open has no
    item, a category page view has a category and no item. A row that names an item but no
    category (or brand) takes the item's, as the latest row naming one reported it: an item
    belongs to one category and one brand.

The CSV format (``interactions_from_csv``, ``write_csv``)
    UTF-8, comma-separated, RFC 4180 quoting, one header line naming the columns
    ``user,item,category,brand,type,occurred_at`` (in any order; other columns are ignored),
    then one line per row:

    - ``user``: the customer's id (text, not empty);
    - ``item``, ``category``, ``brand``: text, empty for none;
    - ``type``: one of ``purchase``, ``page_view``, ``campaign_click``, ``app_open``,
      ``support_contact``;
    - ``occurred_at``: an RFC 3339 date-time with its offset (``2026-03-01T18:02:00Z``,
      ``2026-03-01T15:02:00.250-03:00``) or epoch seconds (``1772388120``, ``1772388120.25``).

    A line that breaks these rules raises ``ValueError`` naming its line number.

Weights and recency
    Each row counts ``weights[type] * 2 ** (-age_days / half_life_days)``, where ``age_days`` is
    the time from the row to ``now`` (a row dated after ``now`` counts as new). Types weighted
    0 (app opens, support contacts by default) say nothing about tastes; they still count as
    engagement for the best moment.

Interests (``affinities``)
    Per customer, every category and every brand gets the sum of its rows' weights. The score
    is that sum divided by the larger of (a) the sum of the customer's strongest category (for
    categories; strongest brand, for brands) and (b) ``saturation`` (3.0 by default: one
    purchase today), capped at 1. So 1.0 is the customer's strongest interest, 0.5 means half
    the recent weighted activity of the strongest, and a customer whose only evidence is one
    page view, or only old activity, gets a low score rather than a full one: scores of
    different customers can be compared ("interested in Acme at 0.5 or more"). Interests
    scoring below ``min_score`` are dropped. The evidence is the count of rows per type.

    Predicted interests: given the customer's recommendations (``predicted``), a category or
    brand the customer has no evidence in scores ``predicted_weight`` (0.5) times its share
    of the recommendations: 3 of 10 recommended items in "Shoes" give 0.15. It is never
    worth more than half of the same share of own activity; its evidence is
    ``{"similar_customers": n}``, the number of customers who took the most-taken of those
    recommended items.

Recommendations
    ``PopularityModel`` (recency-weighted popularity: the baseline and the cold-start answer),
    ``OwnHistoryModel`` (the customer's own most-weighted items: repeat purchases),
    ``ItemItemModel`` (cosine similarity of items over the customer x item matrix, the
    strongest ``neighbours`` per item; Sarwar, Karypis, Konstan and Riedl, "Item-based
    collaborative filtering recommendation algorithms", WWW 2001; Deshpande and Karypis,
    "Item-based top-N recommendation algorithms", TOIS 2004) and ``AlsModel`` (matrix
    factorisation for implicit feedback; Hu, Koren and Volinsky, "Collaborative filtering for
    implicit feedback datasets", ICDM 2008; the ``implicit`` package). They share
    ``fit(data, *, now, half_life_days, weights)`` and ``recommend(user_codes, n, *,
    exclude_seen=True)``. The item-item neighbours are stored (``ItemNeighbour``) so that a
    customer's recommendations can be recomputed without refitting
    (``recommend_from_neighbours``); each recommendation names the seen item that contributed
    most (``because``).

The best moment (``best_moment``)
    Per customer, the hours of the day (0-23) and ISO weekdays (1 = Monday) of their
    interactions, in local time (``zoneinfo``), smoothed with the population's: the posterior
    mean of a Dirichlet whose prior is ``prior_strength`` pseudo-interactions spread as the
    population's distribution (the mean of the customers' own distributions: each customer
    counts once, however active). An interaction counts half at its hour and a quarter at
    each neighbouring hour (``hour_spread``: rhythms are not sharp to the hour). A new
    customer gets the population's best hours; one with many interactions their own.
    ``from_prior`` marks customers with fewer interactions than ``prior_strength`` (the prior
    outweighs their own evidence).

Offline evaluation
    ``time_split`` cuts at one moment: the model learns the past and is scored on what each
    customer did afterwards. ``relevant_items`` gives, per customer with some training
    evidence, the items they took after the cutoff; by default only the items new to them
    ("the next new item": what a recommendation is for, since repeat purchases are
    ``OwnHistoryModel``'s job), otherwise every item (with the seen items left in the
    rankings). ``recall_at_k`` and ``ndcg_at_k`` rank the whole catalogue (no sampled
    negatives: sampled metrics can reorder models; Krichene and Rendle, "On sampled metrics
    for item recommendation", KDD 2020). ``bootstrap_ci`` gives 95% percentile intervals over
    customers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp  # type: ignore[import-untyped]

INTERACTION_TYPES = ("purchase", "page_view", "campaign_click", "app_open", "support_contact")
CSV_COLUMNS = ("user", "item", "category", "brand", "type", "occurred_at")
SECONDS_PER_DAY = 86400.0
# Dense score blocks of at most this many cells (float32: 16 MB).
_BLOCK_CELLS = 1 << 22

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
Row = tuple[Any, str, str, str, str, float]


# --------------------------------------------------------------------------------------------
# Interactions


@dataclass
class Interactions:
    """Interactions as equal-length arrays of codes into vocabularies (-1: none).

    ``kinds`` are codes into ``kind_keys`` (the interaction types); ``times`` are epoch
    seconds (UTC). ``item_category`` and ``item_brand`` give each item's category and brand
    (codes, -1 when never reported), as the latest row naming one reported them."""

    users: IntArray
    items: IntArray
    categories: IntArray
    brands: IntArray
    kinds: npt.NDArray[np.int8]
    times: FloatArray
    user_ids: list[Any]
    item_keys: list[str]
    category_keys: list[str]
    brand_keys: list[str]
    kind_keys: list[str]
    item_category: IntArray
    item_brand: IntArray

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_keys)

    def subset(self, mask: npt.NDArray[np.bool_]) -> Interactions:
        """The rows where ``mask`` holds, with the same vocabularies (codes stay valid)."""
        return Interactions(
            users=self.users[mask],
            items=self.items[mask],
            categories=self.categories[mask],
            brands=self.brands[mask],
            kinds=self.kinds[mask],
            times=self.times[mask],
            user_ids=self.user_ids,
            item_keys=self.item_keys,
            category_keys=self.category_keys,
            brand_keys=self.brand_keys,
            kind_keys=self.kind_keys,
            item_category=self.item_category,
            item_brand=self.item_brand,
        )

    def user_codes(self) -> dict[Any, int]:
        """Original user id -> code."""
        return {user_id: code for code, user_id in enumerate(self.user_ids)}


def _encode(values: Sequence[Any], *, empty_is_none: bool) -> tuple[IntArray, list[Any]]:
    """Codes of ``values`` in order of first appearance; "" -> -1 when ``empty_is_none``."""
    keys = list(dict.fromkeys(values))
    lookup: dict[Any, int] = {key: code for code, key in enumerate(keys)}
    if empty_is_none and "" in lookup:
        keys.remove("")
        lookup = {key: code for code, key in enumerate(keys)}
        lookup[""] = -1
    codes = np.fromiter(map(lookup.__getitem__, values), dtype=np.int32, count=len(values))
    return codes, keys


def _latest_per_item(
    items: IntArray, values: IntArray, times: FloatArray, n_items: int
) -> IntArray:
    """Per item, the value of its latest row that has one (-1 when none has)."""
    out = np.full(n_items, -1, dtype=np.int32)
    mask = (items >= 0) & (values >= 0)
    if not mask.any():
        return out
    item, value, time = items[mask], values[mask], times[mask]
    order = np.lexsort((time, item))
    item, value = item[order], value[order]
    last = np.r_[item[1:] != item[:-1], True]
    out[item[last]] = value[last]
    return out


def interactions_from_rows(rows: Iterable[Row]) -> Interactions:
    """Encode ``(user_id, item, category, brand, type, epoch_seconds)`` rows; "" means none.

    A row naming an item but no category or brand takes the item's (its latest reported)."""
    materialised = rows if isinstance(rows, list) else list(rows)
    if not materialised:
        columns: list[Sequence[Any]] = [(), (), (), (), (), ()]
    else:
        columns = list(zip(*materialised, strict=True))
        if len(columns) != len(CSV_COLUMNS):
            raise ValueError(f"rows have {len(columns)} fields, not {len(CSV_COLUMNS)}")
    user_col, item_col, category_col, brand_col, type_col, time_col = columns
    count = len(user_col)
    users, user_ids = _encode(user_col, empty_is_none=False)
    items, item_keys = _encode(item_col, empty_is_none=True)
    categories, category_keys = _encode(category_col, empty_is_none=True)
    brands, brand_keys = _encode(brand_col, empty_is_none=True)
    kind_codes, kind_keys = _encode(type_col, empty_is_none=False)
    if len(kind_keys) > 127:
        raise ValueError("more than 127 interaction types")
    try:
        times = np.fromiter(time_col, dtype=np.float64, count=count)
    except (TypeError, ValueError) as error:
        raise ValueError(f"a time is not a number of seconds: {error}") from None
    if not np.isfinite(times).all():
        raise ValueError("a time is not finite")
    item_category = _latest_per_item(items, categories, times, len(item_keys))
    item_brand = _latest_per_item(items, brands, times, len(item_keys))
    has_item = items >= 0
    missing = has_item & (categories < 0)
    categories[missing] = item_category[items[missing]]
    missing = has_item & (brands < 0)
    brands[missing] = item_brand[items[missing]]
    return Interactions(
        users=users,
        items=items,
        categories=categories,
        brands=brands,
        kinds=kind_codes.astype(np.int8),
        times=times,
        user_ids=user_ids,
        item_keys=item_keys,
        category_keys=category_keys,
        brand_keys=brand_keys,
        kind_keys=kind_keys,
        item_category=item_category,
        item_brand=item_brand,
    )


def parse_occurred_at(text: str) -> float:
    """Epoch seconds of an RFC 3339 date-time with an offset, or of a number of seconds."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"not a finite time: {text!r}")
        return value
    try:
        moment = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        raise ValueError(f"not an RFC 3339 date-time or epoch seconds: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"an RFC 3339 date-time needs its offset (Z, +hh:mm): {text!r}")
    return moment.timestamp()


def _csv_rows(path: str | Path) -> Iterator[Row]:
    types = frozenset(INTERACTION_TYPES)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError("line 1: empty file, the header is missing")
        names = [name.strip().lower() for name in header]
        missing = [name for name in CSV_COLUMNS if name not in names]
        if missing:
            raise ValueError(f"line 1: the header lacks {', '.join(missing)}")
        width = len(names)
        user_at, item_at, category_at, brand_at, type_at, time_at = (
            names.index(name) for name in CSV_COLUMNS
        )
        for fields in reader:
            if not fields:
                continue  # a blank line
            line = reader.line_num
            if len(fields) != width:
                raise ValueError(f"line {line}: {len(fields)} fields, the header has {width}")
            user = fields[user_at]
            if not user:
                raise ValueError(f"line {line}: the user is empty")
            kind = fields[type_at]
            if kind not in types:
                raise ValueError(f"line {line}: unknown type {kind!r}")
            try:
                moment = parse_occurred_at(fields[time_at])
            except ValueError as error:
                raise ValueError(f"line {line}: {error}") from None
            yield (user, fields[item_at], fields[category_at], fields[brand_at], kind, moment)


def interactions_from_csv(path: str | Path) -> Interactions:
    """Read a CSV file in the format of the module docstring (``ValueError`` names the line)."""
    return interactions_from_rows(list(_csv_rows(path)))


def format_epoch(times: FloatArray) -> list[str]:
    """RFC 3339 UTC date-times of epoch seconds (microseconds when not whole seconds)."""
    whole = bool(np.all(times == np.floor(times)))
    if whole:
        moments = times.astype(np.int64).astype("datetime64[s]")
        text = np.datetime_as_string(moments, unit="s")
    else:
        moments = np.round(times * 1e6).astype(np.int64).astype("datetime64[us]")
        text = np.datetime_as_string(moments, unit="us")
    return [value + "Z" for value in text.tolist()]


def write_csv(path: str | Path, rows: Iterable[Row]) -> int:
    """Write rows in the CSV format of the module docstring (RFC 3339 times); their count."""
    materialised = rows if isinstance(rows, list) else list(rows)
    times = np.fromiter((row[5] for row in materialised), dtype=np.float64)
    stamps = format_epoch(times)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(
            (row[0], row[1], row[2], row[3], row[4], stamp)
            for row, stamp in zip(materialised, stamps, strict=True)
        )
    return len(materialised)


# --------------------------------------------------------------------------------------------
# Weights


def interaction_weights(
    data: Interactions, *, now: float, half_life_days: float, weights: Mapping[str, float]
) -> FloatArray:
    """Per row: its type's weight times ``2 ** (-age_days / half_life_days)``."""
    if not half_life_days > 0:
        raise ValueError("half_life_days must be positive")
    per_kind = np.array([float(weights.get(kind, 0.0)) for kind in data.kind_keys] or [0.0])
    age_days = np.maximum(now - data.times, 0.0) / SECONDS_PER_DAY
    result: FloatArray = per_kind[data.kinds] * np.exp2(-age_days / half_life_days)
    return result


def user_item_matrix(
    data: Interactions, *, now: float, half_life_days: float, weights: Mapping[str, float]
) -> sp.csr_matrix:
    """The customer x item matrix (float32) of summed row weights (rows with an item)."""
    row_weights = interaction_weights(data, now=now, half_life_days=half_life_days, weights=weights)
    mask = (data.items >= 0) & (row_weights > 0)
    matrix = sp.csr_matrix(
        (row_weights[mask], (data.users[mask], data.items[mask])),
        shape=(data.n_users, data.n_items),
        dtype=np.float64,
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix.astype(np.float32)


# --------------------------------------------------------------------------------------------
# Interests


@dataclass(slots=True)
class Affinity:
    """A customer's interest in a category or brand (see the module docstring for ``score``).

    ``evidence``: rows per interaction type, or ``{"similar_customers": n}`` for a predicted
    interest (``predicted``; its ``last_at`` is None)."""

    kind: str
    key: str
    score: float
    evidence: dict[str, int]
    last_at: float | None
    predicted: bool = False


def _groups(codes: IntArray) -> tuple[IntArray, IntArray]:
    """Start and length of each run of equal values in sorted ``codes``."""
    if not len(codes):
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]).astype(np.int32)
    lengths = np.diff(np.r_[starts, len(codes)]).astype(np.int32)
    return starts, lengths


def _own_affinities(
    data: Interactions,
    row_weights: FloatArray,
    *,
    kind: str,
    codes: IntArray,
    keys: list[str],
    min_score: float,
    saturation: float,
    out: dict[int, list[Affinity]],
) -> None:
    mask = (row_weights > 0) & (codes >= 0)
    if not mask.any():
        return
    n_keys = len(keys)
    n_kinds = len(data.kind_keys)
    pair = data.users[mask].astype(np.int64) * n_keys + codes[mask]
    unique, inverse = np.unique(pair, return_inverse=True)
    sums = np.bincount(inverse, weights=row_weights[mask], minlength=len(unique))
    counts = np.bincount(
        inverse * n_kinds + data.kinds[mask], minlength=len(unique) * n_kinds
    ).reshape(len(unique), n_kinds)
    last = np.full(len(unique), -np.inf)
    np.maximum.at(last, inverse, data.times[mask])
    pair_user = (unique // n_keys).astype(np.int32)
    pair_key = (unique % n_keys).astype(np.int32)
    starts, lengths = _groups(pair_user)
    strongest = np.repeat(np.maximum.reduceat(sums, starts), lengths)
    scores = np.minimum(sums / np.maximum(strongest, saturation), 1.0)
    kept = np.flatnonzero(scores >= min_score)
    kind_keys = data.kind_keys
    for user, key, score, at, row in zip(
        pair_user[kept].tolist(),
        pair_key[kept].tolist(),
        scores[kept].tolist(),
        last[kept].tolist(),
        counts[kept].tolist(),
        strict=True,
    ):
        evidence = {kind_keys[k]: n for k, n in enumerate(row) if n}
        out.setdefault(user, []).append(Affinity(kind, keys[key], score, evidence, at))


def affinities(
    data: Interactions,
    *,
    now: float,
    half_life_days: float,
    weights: Mapping[str, float],
    min_score: float,
    saturation: float = 3.0,
    predicted: Mapping[int, Sequence[int]] | None = None,
    predicted_weight: float = 0.5,
) -> dict[int, list[Affinity]]:
    """Each customer's interests (categories and brands), best first; customers without any
    are absent. ``predicted``: user code -> recommended item codes (see the module docstring).
    """
    row_weights = interaction_weights(data, now=now, half_life_days=half_life_days, weights=weights)
    out: dict[int, list[Affinity]] = {}
    vocabularies = (
        ("category", data.categories, data.category_keys, data.item_category),
        ("brand", data.brands, data.brand_keys, data.item_brand),
    )
    for kind, codes, keys, _per_item in vocabularies:
        _own_affinities(
            data,
            row_weights,
            kind=kind,
            codes=codes,
            keys=keys,
            min_score=min_score,
            saturation=saturation,
            out=out,
        )
    if predicted:
        customers = item_customers(data, row_weights)
        used = row_weights > 0
        for kind, codes, keys, per_item in vocabularies:
            n_keys = max(len(keys), 1)
            mask = used & (codes >= 0)
            # (customer, key) pairs with own evidence: no prediction there.
            touched = set(
                np.unique(data.users[mask].astype(np.int64) * n_keys + codes[mask]).tolist()
            )
            for user, recommended in predicted.items():
                items = [int(item) for item in recommended if item >= 0]
                members: dict[int, list[int]] = {}
                for item in items:
                    code = int(per_item[item])
                    if code >= 0 and user * n_keys + code not in touched:
                        members.setdefault(code, []).append(item)
                for code, chosen in members.items():
                    score = predicted_weight * len(chosen) / len(items)
                    if score < min_score:
                        continue
                    similar = int(max(customers[item] for item in chosen))
                    out.setdefault(user, []).append(
                        Affinity(
                            kind, keys[code], score, {"similar_customers": similar}, None, True
                        )
                    )
    for interests in out.values():
        interests.sort(key=lambda a: (-a.score, a.predicted, a.kind, a.key))
    return out


def item_customers(data: Interactions, row_weights: FloatArray | None = None) -> IntArray:
    """Per item, the number of distinct customers with a row of it (weighted rows only when
    ``row_weights`` is given)."""
    mask = data.items >= 0
    if row_weights is not None:
        mask &= row_weights > 0
    pairs = np.unique(data.items[mask].astype(np.int64) * max(data.n_users, 1) + data.users[mask])
    counts = np.bincount(pairs // max(data.n_users, 1), minlength=data.n_items)
    return counts.astype(np.int32)


# --------------------------------------------------------------------------------------------
# Recommendations


def _empty_result(count: int, n: int) -> tuple[IntArray, npt.NDArray[np.float32]]:
    return np.full((count, n), -1, dtype=np.int32), np.zeros((count, n), dtype=np.float32)


def _rows_of(matrix: sp.csr_matrix, user_codes: IntArray) -> sp.csr_matrix:
    """Rows of ``matrix`` for ``user_codes``; codes beyond it (customers unknown at fit)
    get empty rows."""
    inside = user_codes < matrix.shape[0]
    if inside.all():
        rows: sp.csr_matrix = matrix[user_codes]
        return rows
    safe = np.where(inside, user_codes, 0)
    rows = matrix[safe].tolil()
    for index in np.flatnonzero(~inside):
        rows.rows[index] = []
        rows.data[index] = []
    result: sp.csr_matrix = rows.tocsr()
    return result


def top_n_per_row(scores: sp.csr_matrix, n: int) -> tuple[IntArray, npt.NDArray[np.float32]]:
    """The ``n`` largest stored entries of each row (column codes and values), best first,
    ties to the lower column; -1 and 0 where a row has fewer."""
    items, values = _empty_result(scores.shape[0], n)
    indptr, indices, data = scores.indptr, scores.indices, scores.data
    for row in range(scores.shape[0]):
        start, end = indptr[row], indptr[row + 1]
        if start == end:
            continue
        row_values = data[start:end]
        row_items = indices[start:end]
        if end - start > n:
            chosen = np.argpartition(-row_values, n - 1)[:n]
            row_values, row_items = row_values[chosen], row_items[chosen]
        order = np.lexsort((row_items, -row_values))
        count = len(order)
        items[row, :count] = row_items[order]
        values[row, :count] = row_values[order]
    return items, values


def _without_seen(scores: sp.csr_matrix, seen: sp.csr_matrix) -> sp.csr_matrix:
    """``scores`` with the entries where ``seen`` has one removed."""
    mask = seen.copy()
    mask.data = np.ones_like(mask.data)
    overlap = scores.multiply(mask).tocsr()
    result: sp.csr_matrix = (scores - overlap).tocsr()
    result.eliminate_zeros()
    return result


class Recommender:
    """The common interface of the models."""

    name = "model"
    matrix: sp.csr_matrix

    def fit(
        self,
        data: Interactions,
        *,
        now: float,
        half_life_days: float,
        weights: Mapping[str, float],
    ) -> Recommender:
        self.matrix = user_item_matrix(
            data, now=now, half_life_days=half_life_days, weights=weights
        )
        return self

    def recommend(
        self, user_codes: npt.ArrayLike, n: int, *, exclude_seen: bool = True
    ) -> tuple[IntArray, npt.NDArray[np.float32]]:
        raise NotImplementedError

    def because(self, user_codes: npt.ArrayLike, items: IntArray) -> IntArray:
        """Per recommended item, the customer's seen item that contributed most (-1: none)."""
        return np.full(np.shape(items), -1, dtype=np.int32)

    def _batches(self, user_codes: IntArray) -> Iterator[slice]:
        size = max(64, _BLOCK_CELLS // max(self.matrix.shape[1], 1))
        for start in range(0, len(user_codes), size):
            yield slice(start, start + size)


class PopularityModel(Recommender):
    """Items by recency-weighted popularity (the sum of their rows' weights)."""

    name = "popularity"
    popularity: FloatArray

    def fit(
        self,
        data: Interactions,
        *,
        now: float,
        half_life_days: float,
        weights: Mapping[str, float],
    ) -> PopularityModel:
        super().fit(data, now=now, half_life_days=half_life_days, weights=weights)
        self.popularity = np.asarray(self.matrix.sum(axis=0), dtype=np.float64).ravel()
        order = np.lexsort((np.arange(len(self.popularity)), -self.popularity))
        self.ranking = order[self.popularity[order] > 0].astype(np.int32)
        return self

    def recommend(
        self, user_codes: npt.ArrayLike, n: int, *, exclude_seen: bool = True
    ) -> tuple[IntArray, npt.NDArray[np.float32]]:
        codes = np.asarray(user_codes, dtype=np.int32)
        items, scores = _empty_result(len(codes), n)
        if not exclude_seen:
            top = self.ranking[:n]
            items[:, : len(top)] = top
            scores[:, : len(top)] = self.popularity[top]
            return items, scores
        for batch in self._batches(codes):
            seen = _rows_of(self.matrix, codes[batch])
            most_seen = int(np.diff(seen.indptr).max(initial=0))
            pool = self.ranking[: n + most_seen]
            blocked = seen[:, pool].toarray() != 0
            allowed = ~blocked
            rank = np.cumsum(allowed, axis=1)
            rows, columns = np.nonzero(allowed & (rank <= n))
            positions = rank[rows, columns] - 1
            items[batch][rows, positions] = pool[columns]
            scores[batch][rows, positions] = self.popularity[pool[columns]]
        return items, scores


class OwnHistoryModel(Recommender):
    """The customer's own items, most weighted first (repeat purchases): it recommends only
    seen items, so ``exclude_seen`` must be False."""

    name = "own history"

    def recommend(
        self, user_codes: npt.ArrayLike, n: int, *, exclude_seen: bool = True
    ) -> tuple[IntArray, npt.NDArray[np.float32]]:
        if exclude_seen:
            raise ValueError("OwnHistoryModel recommends seen items: pass exclude_seen=False")
        codes = np.asarray(user_codes, dtype=np.int32)
        return top_n_per_row(_rows_of(self.matrix, codes), n)

    def because(self, user_codes: npt.ArrayLike, items: IntArray) -> IntArray:
        """Each recommended item is its own reason."""
        return np.asarray(items, dtype=np.int32).copy()


def _pair_because(
    seen: sp.csr_matrix,
    items: IntArray,
    similarity: Any,
) -> IntArray:
    """Per (customer, recommended item): argmax over seen items i of x_ui * sim(i, j).

    ``similarity(i_codes, j_codes) -> values`` scores pairs of item codes."""
    rows, n = items.shape
    result = np.full((rows, n), -1, dtype=np.int32)
    coo = seen.tocoo()
    if not coo.nnz or not n:
        return result
    # Every (seen nonzero, rank) pair: customer, seen item, weight, rank, recommended item.
    user = np.repeat(coo.row, n)
    seen_item = np.repeat(coo.col, n)
    weight = np.repeat(coo.data, n)
    rank = np.tile(np.arange(n), coo.nnz)
    recommended = items[user, rank]
    valid = (recommended >= 0) & (recommended != seen_item)
    user, seen_item, weight, rank, recommended = (
        user[valid],
        seen_item[valid],
        weight[valid],
        rank[valid],
        recommended[valid],
    )
    contribution = weight * similarity(seen_item, recommended)
    positive = contribution > 0
    user, seen_item, rank, contribution = (
        user[positive],
        seen_item[positive],
        rank[positive],
        contribution[positive],
    )
    group = user.astype(np.int64) * n + rank
    order = np.lexsort((seen_item, -contribution, group))
    group = group[order]
    first = np.r_[True, group[1:] != group[:-1]]
    chosen = order[first]
    result[user[chosen], rank[chosen]] = seen_item[chosen]
    return result


class ItemItemModel(Recommender):
    """Cosine item-item similarity, the strongest ``neighbours`` per item; a customer's
    score for item j is sum_i x_ui * S_ij over their items i.

    ``x_ui`` is the customer's summed row weight of item i, as ``scaling`` says: ``linear``
    (as is), ``log`` (log1p: repeats count with diminishing returns) or ``binary`` (1 for
    any weighted row: type weights and recency then only decide which items count, not how
    much). On benchmarks/personalization.py's shop ``binary`` ranked best, then ``log``."""

    name = "item-item"
    similarity: sp.csr_matrix

    def __init__(self, neighbours: int = 50, *, scaling: str = "binary") -> None:
        if scaling not in ("linear", "log", "binary"):
            raise ValueError("scaling is linear, log or binary")
        self.neighbour_count = neighbours
        self.scaling = scaling

    def _scaled(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        scaled = matrix.copy()
        if self.scaling == "log":
            scaled.data = np.log1p(scaled.data)
        elif self.scaling == "binary":
            scaled.data = np.ones_like(scaled.data)
        return scaled

    def fit(
        self,
        data: Interactions,
        *,
        now: float,
        half_life_days: float,
        weights: Mapping[str, float],
    ) -> ItemItemModel:
        super().fit(data, now=now, half_life_days=half_life_days, weights=weights)
        self.matrix = self._scaled(self.matrix)
        self.similarity = cosine_neighbours(self.matrix, self.neighbour_count)
        # Sorted (item, neighbour) keys of the kept pairs, to look pairs up (``because``).
        rows = np.repeat(np.arange(self.similarity.shape[0]), np.diff(self.similarity.indptr))
        self._keys = rows.astype(np.int64) * self.similarity.shape[1] + self.similarity.indices
        return self

    def neighbours(self) -> Iterator[tuple[int, int, float]]:
        """(item code, neighbour code, similarity) of every kept pair, strongest first per
        item: what ``ItemNeighbour`` stores."""
        similarity = self.similarity
        for item in range(similarity.shape[0]):
            start, end = similarity.indptr[item], similarity.indptr[item + 1]
            values = similarity.data[start:end]
            order = np.lexsort((similarity.indices[start:end], -values))
            for index in order.tolist():
                yield item, int(similarity.indices[start + index]), float(values[index])

    def _pair_similarity(self, left: IntArray, right: IntArray) -> npt.NDArray[np.float32]:
        query = left.astype(np.int64) * self.similarity.shape[1] + right
        position = np.searchsorted(self._keys, query)
        position = np.minimum(position, max(len(self._keys) - 1, 0))
        if not len(self._keys):
            return np.zeros(len(query), dtype=np.float32)
        found = self._keys[position] == query
        values: npt.NDArray[np.float32] = np.where(
            found, self.similarity.data[position], 0.0
        ).astype(np.float32)
        return values

    def recommend(
        self, user_codes: npt.ArrayLike, n: int, *, exclude_seen: bool = True
    ) -> tuple[IntArray, npt.NDArray[np.float32]]:
        codes = np.asarray(user_codes, dtype=np.int32)
        items, scores = _empty_result(len(codes), n)
        for batch in self._batches(codes):
            seen = _rows_of(self.matrix, codes[batch])
            predicted = (seen @ self.similarity).tocsr()
            if exclude_seen:
                predicted = _without_seen(predicted, seen)
            items[batch], scores[batch] = top_n_per_row(predicted, n)
        return items, scores

    def because(self, user_codes: npt.ArrayLike, items: IntArray) -> IntArray:
        codes = np.asarray(user_codes, dtype=np.int32)
        result = np.full(np.shape(items), -1, dtype=np.int32)
        for batch in self._batches(codes):
            seen = _rows_of(self.matrix, codes[batch])
            result[batch] = _pair_because(seen, items[batch], self._pair_similarity)
        return result


def cosine_neighbours(matrix: sp.csr_matrix, neighbours: int) -> sp.csr_matrix:
    """Item x item cosine similarity of the columns of a customer x item ``matrix``, the
    ``neighbours`` largest per row kept (the item itself excluded), float32 CSR."""
    n_items = matrix.shape[1]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0), dtype=np.float64).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normalised = (matrix @ sp.diags(inverse.astype(np.float32))).tocsc()
    transposed = normalised.T.tocsr()
    normalised = normalised.tocsr()
    indptr = [np.zeros(1, dtype=np.int64)]
    indices: list[IntArray] = []
    values: list[npt.NDArray[np.float32]] = []
    total = 0
    # Blocks of items, so that the full product (every co-occurring pair) is never held.
    block = max(64, min(n_items, 2_000_000 // max(1, normalised.nnz // max(n_items, 1) * 50)))
    for start in range(0, n_items, block):
        stop = min(n_items, start + block)
        product = (transposed[start:stop] @ normalised).tocsr()
        product.setdiag(0, k=start)  # the block's rows are items start, start + 1, ...
        product.eliminate_zeros()
        top_items, top_values = top_n_per_row(product, neighbours)
        keep = top_items >= 0
        counts = keep.sum(axis=1)
        indices.append(top_items[keep].astype(np.int32))
        values.append(top_values[keep].astype(np.float32))
        indptr.append(total + np.cumsum(counts))
        total += int(counts.sum())
    result = sp.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0, dtype=np.float32),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32),
            np.concatenate(indptr),
        ),
        shape=(n_items, n_items),
    )
    result.sort_indices()
    return result


def recommend_from_neighbours(
    user_items: Mapping[str, float],
    neighbours: Mapping[str, Sequence[tuple[str, float]]],
    n: int,
    exclude: Collection[str] = (),
) -> list[tuple[str, float, str]]:
    """A customer's recommendations from stored item neighbours, without refitting:
    ``(item, score, because)``, best first, where score = sum over the customer's items i of
    weight_i * similarity(i, item) and ``because`` is the item i contributing most.

    ``user_items``: the customer's items and weights (as ``ItemItemModel`` fit them: the
    summed row weights, scaled the same way); ``exclude``: items not to recommend (usually
    the customer's own)."""
    excluded = set(exclude)
    scores: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    for item, weight in user_items.items():
        for neighbour, similarity in neighbours.get(item, ()):
            if neighbour in excluded or neighbour == item:
                continue
            contribution = weight * similarity
            scores[neighbour] = scores.get(neighbour, 0.0) + contribution
            current = best.get(neighbour)
            # The largest contribution; on a tie, the first item in sort order.
            if current is None or (-contribution, item) < (-current[0], current[1]):
                best[neighbour] = (contribution, item)
    ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:n]
    return [(item, score, best[item][1]) for item, score in ranked]


def scale_weight(weight: float, scaling: str = "binary") -> float:
    """A summed row weight as ``ItemItemModel(scaling=...)`` sees it (for
    ``recommend_from_neighbours``)."""
    if scaling == "log":
        return math.log1p(weight)
    if scaling == "binary":
        return 1.0 if weight > 0 else 0.0
    return weight


def _blas_threads(count: int) -> AbstractContextManager[object]:
    """BLAS limited to ``count`` threads for a while (threadpoolctl, installed with implicit)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    limits: AbstractContextManager[object] = threadpool_limits(count, "blas")
    return limits


class AlsModel(Recommender):
    """Implicit-feedback matrix factorisation (``implicit.cpu.als``). The confidence of a
    customer-item pair is ``1 + alpha * log1p(w)`` over its summed row weight ``w`` (Hu et
    al. 2008, section 4, the log variant: repeat rows add confidence with diminishing
    returns); unobserved pairs have confidence 1 and preference 0."""

    name = "ALS"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 10.0,
        *,
        threads: int = 2,
        seed: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.threads = max(1, min(threads, 2))
        self.seed = seed

    def fit(
        self,
        data: Interactions,
        *,
        now: float,
        half_life_days: float,
        weights: Mapping[str, float],
    ) -> AlsModel:
        from implicit.cpu.als import AlternatingLeastSquares  # type: ignore[import-untyped]

        super().fit(data, now=now, half_life_days=half_life_days, weights=weights)
        confidence = self.matrix.copy()
        confidence.data = (1.0 + self.alpha * np.log1p(confidence.data)).astype(np.float32)
        self.confidence = confidence
        # implicit's own threads do the work; BLAS threads on top of them only contend.
        with _blas_threads(1):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                iterations=self.iterations,
                num_threads=self.threads,
                random_state=self.seed,
            )
            model.fit(confidence, show_progress=False)
        self.model = model
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        norms = np.linalg.norm(self.item_factors, axis=1, keepdims=True)
        self._unit_items = np.divide(
            self.item_factors, norms, out=np.zeros_like(self.item_factors), where=norms > 0
        )
        return self

    def recommend(
        self, user_codes: npt.ArrayLike, n: int, *, exclude_seen: bool = True
    ) -> tuple[IntArray, npt.NDArray[np.float32]]:
        codes = np.asarray(user_codes, dtype=np.int32)
        items, scores = _empty_result(len(codes), n)
        known = codes < self.user_factors.shape[0]
        with _blas_threads(self.threads):  # scoring is one matrix product per batch
            self._recommend_batches(codes, known, n, exclude_seen, items, scores)
        return items, scores

    def _recommend_batches(
        self,
        codes: IntArray,
        known: npt.NDArray[np.bool_],
        n: int,
        exclude_seen: bool,
        items: IntArray,
        scores: npt.NDArray[np.float32],
    ) -> None:
        for batch in self._batches(codes):
            batch_codes = codes[batch]
            inside = known[batch]
            factors = np.zeros((len(batch_codes), self.factors), dtype=np.float32)
            factors[inside] = self.user_factors[batch_codes[inside]]
            predicted = factors @ self.item_factors.T
            if exclude_seen:
                seen = _rows_of(self.matrix, batch_codes).tocoo()
                predicted[seen.row, seen.col] = -np.inf
            count = min(n, predicted.shape[1])
            if count == 0:
                continue
            top = np.argpartition(-predicted, count - 1, axis=1)[:, :count]
            top_scores = np.take_along_axis(predicted, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            top_scores = np.take_along_axis(top_scores, order, axis=1)
            valid = np.isfinite(top_scores)
            items[batch, :count] = np.where(valid, top, -1)
            scores[batch, :count] = np.where(valid, top_scores, 0.0)

    def _pair_similarity(self, left: IntArray, right: IntArray) -> npt.NDArray[np.float32]:
        values = np.empty(len(left), dtype=np.float32)
        chunk = max(1, (1 << 20) // max(self.factors, 1))  # two 4 MB blocks of factors
        for start in range(0, len(left), chunk):
            stop = start + chunk
            values[start:stop] = np.einsum(
                "ij,ij->i",
                self._unit_items[left[start:stop]],
                self._unit_items[right[start:stop]],
            )
        return values

    def because(self, user_codes: npt.ArrayLike, items: IntArray) -> IntArray:
        """The seen item whose factors are closest (cosine, times its weight) to each
        recommended item's."""
        codes = np.asarray(user_codes, dtype=np.int32)
        result = np.full(np.shape(items), -1, dtype=np.int32)
        for batch in self._batches(codes):
            seen = _rows_of(self.matrix, codes[batch])
            result[batch] = _pair_because(seen, items[batch], self._pair_similarity)
        return result


# --------------------------------------------------------------------------------------------
# The best moment


def _offsets(times: FloatArray, zone: ZoneInfo) -> FloatArray:
    """UTC offset in seconds of ``zone`` at each time: computed once per 15 minutes of
    the data (and per row only inside a quarter where the offset changes)."""
    if not len(times):
        return np.zeros(0)
    quarter = np.floor(times / 900.0).astype(np.int64)
    unique, inverse = np.unique(quarter, return_inverse=True)

    def offset_at(moment: float) -> float:
        delta = datetime.fromtimestamp(moment, zone).utcoffset()
        return delta.total_seconds() if delta is not None else 0.0

    start = np.array([offset_at(q * 900.0) for q in unique.tolist()])
    end = np.array([offset_at(q * 900.0 + 899.999) for q in unique.tolist()])
    result = start[inverse]
    changing = np.flatnonzero((start != end)[inverse])
    for row in changing.tolist():
        result[row] = offset_at(float(times[row]))
    return result


def local_hours_and_weekdays(
    data: Interactions, time_zone: str, user_time_zones: Mapping[int, str] | None = None
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Per row, the hour (0-23) and ISO weekday (1 = Monday) in the customer's time zone
    (``user_time_zones``: user code -> zone name; others ``time_zone``)."""
    zones = np.zeros(len(data), dtype=np.int32)
    names = [time_zone]
    if user_time_zones:
        index = {time_zone: 0}
        per_user = np.zeros(max(data.n_users, 1), dtype=np.int32)
        for user, name in user_time_zones.items():
            if 0 <= user < data.n_users:
                per_user[user] = index.setdefault(name, len(index))
        names = list(index)
        zones = per_user[data.users] if len(data) else zones
    offsets = np.zeros(len(data))
    for code, name in enumerate(names):
        rows = np.flatnonzero(zones == code)
        if len(rows):
            offsets[rows] = _offsets(data.times[rows], ZoneInfo(name))
    local = data.times + offsets
    hours = (np.floor(local / 3600.0) % 24).astype(np.int8)
    # 1970-01-01 was a Thursday (ISO weekday 4).
    weekdays = ((np.floor(local / SECONDS_PER_DAY).astype(np.int64) + 3) % 7 + 1).astype(np.int8)
    return hours, weekdays


@dataclass
class BestMoments:
    """Per user code: the best hours and weekdays (best first), whether the population's
    prior outweighs the customer's own evidence, and the interactions counted."""

    hours: npt.NDArray[np.int8]
    weekdays: npt.NDArray[np.int8]
    from_prior: npt.NDArray[np.bool_]
    interactions: IntArray
    population_hours: FloatArray = field(repr=False)
    population_weekdays: FloatArray = field(repr=False)


def _population(counts: FloatArray) -> FloatArray:
    """The mean of the customers' own distributions (each active customer counts once)."""
    totals = counts.sum(axis=1, keepdims=True)
    active = totals.ravel() > 0
    if not active.any():
        return np.full(counts.shape[1], 1.0 / counts.shape[1])
    shares = counts[active] / totals[active]
    result: FloatArray = shares.mean(axis=0)
    return result


def _best(posterior: FloatArray, count: int) -> npt.NDArray[np.int8]:
    # Stable sort of the negated posterior: ties go to the earlier hour or day.
    return np.argsort(-posterior, axis=1, kind="stable")[:, :count].astype(np.int8)


def _spread_hours(counts: FloatArray, spread: float) -> FloatArray:
    """Each interaction counts ``1 - 2 * spread`` at its hour and ``spread`` at each of the
    neighbouring ones (23 and 0 are neighbours)."""
    if not spread:
        return counts
    result: FloatArray = (
        (1.0 - 2.0 * spread) * counts
        + spread * np.roll(counts, 1, axis=1)
        + spread * np.roll(counts, -1, axis=1)
    )
    return result


def best_moment(
    data: Interactions,
    *,
    time_zone: str,
    prior_strength: float,
    hours: int = 3,
    weekdays: int = 2,
    user_time_zones: Mapping[int, str] | None = None,
    types: Collection[str] | None = None,
    hour_spread: float = 0.25,
    population_hours: Sequence[float] | None = None,
    population_weekdays: Sequence[float] | None = None,
) -> BestMoments:
    """Each customer's best hours and weekdays to be contacted (see the module docstring).

    ``types``: the interaction types that count as engagement (all by default);
    ``hour_spread``: the share of an interaction counted at each neighbouring hour (someone
    active at 19:50 is as likely to be reached at 20:10); ``population_hours`` (24 shares)
    and ``population_weekdays`` (7): the prior to use instead of the one of ``data`` (an
    update of a few customers takes the population of the last full fit)."""
    if not 0 <= hour_spread <= 0.5:
        raise ValueError("hour_spread must be between 0 and 0.5")
    mask = np.ones(len(data), dtype=bool)
    if types is not None:
        allowed = [code for code, kind in enumerate(data.kind_keys) if kind in set(types)]
        mask = np.isin(data.kinds, allowed)
    local_hours, local_weekdays = local_hours_and_weekdays(data, time_zone, user_time_zones)
    users = data.users[mask].astype(np.int64)
    n_users = data.n_users
    hour_counts = np.bincount(users * 24 + local_hours[mask], minlength=n_users * 24).reshape(
        n_users, 24
    )
    day_counts = np.bincount(users * 7 + (local_weekdays[mask] - 1), minlength=n_users * 7).reshape(
        n_users, 7
    )
    spread = _spread_hours(hour_counts.astype(np.float64), hour_spread)
    hour_prior = _population(spread)
    day_prior = _population(day_counts.astype(np.float64))
    if population_hours is not None and len(population_hours) == 24:
        hour_prior = np.asarray(population_hours, dtype=np.float64)
    if population_weekdays is not None and len(population_weekdays) == 7:
        day_prior = np.asarray(population_weekdays, dtype=np.float64)
    interactions = hour_counts.sum(axis=1).astype(np.int32)
    return BestMoments(
        hours=_best(spread + prior_strength * hour_prior, hours),
        weekdays=(_best(day_counts + prior_strength * day_prior, weekdays) + 1).astype(np.int8),
        from_prior=interactions < prior_strength,
        interactions=interactions,
        population_hours=hour_prior,
        population_weekdays=day_prior,
    )


def global_best_hours(
    data: Interactions,
    time_zone: str,
    hours: int = 3,
    user_time_zones: Mapping[int, str] | None = None,
    hour_spread: float = 0.25,
) -> list[int]:
    """The population's best hours (the prior of ``best_moment``; the baseline)."""
    local_hours, _ = local_hours_and_weekdays(data, time_zone, user_time_zones)
    counts = np.bincount(
        data.users.astype(np.int64) * 24 + local_hours, minlength=data.n_users * 24
    ).reshape(data.n_users, 24)
    prior = _population(_spread_hours(counts.astype(np.float64), hour_spread))
    return [int(hour) for hour in _best(prior[None, :], hours)[0]]


# --------------------------------------------------------------------------------------------
# Offline evaluation


def time_split(
    data: Interactions, *, test_fraction: float = 0.2, cutoff: float | None = None
) -> tuple[Interactions, Interactions, float]:
    """(train, test, cutoff): train = rows before ``cutoff``, test = rows at or after it.
    Without ``cutoff``, it is the time leaving ``test_fraction`` of the rows after it."""
    if cutoff is None:
        if not 0 < test_fraction < 1:
            raise ValueError("test_fraction must be between 0 and 1")
        cutoff = float(np.quantile(data.times, 1.0 - test_fraction)) if len(data) else 0.0
    before = data.times < cutoff
    return data.subset(before), data.subset(~before), cutoff


def relevant_items(
    train: Interactions,
    test: Interactions,
    *,
    weights: Mapping[str, float],
    new_items_only: bool = True,
) -> tuple[IntArray, list[IntArray]]:
    """The customers to evaluate and, for each, their relevant items (sorted codes): the items
    of their weighted test rows, without those of their weighted train rows when
    ``new_items_only``. Customers without a weighted train row with an item (cold starts),
    or without a relevant item, are left out."""
    per_kind = np.array([float(weights.get(kind, 0.0)) for kind in test.kind_keys] or [0.0])
    train_mask = (per_kind[train.kinds] > 0) & (train.items >= 0)
    test_mask = (per_kind[test.kinds] > 0) & (test.items >= 0)
    n_items = max(test.n_items, 1)
    train_pairs = np.unique(
        train.users[train_mask].astype(np.int64) * n_items + train.items[train_mask]
    )
    test_pairs = np.unique(test.users[test_mask].astype(np.int64) * n_items + test.items[test_mask])
    if new_items_only:
        test_pairs = test_pairs[~np.isin(test_pairs, train_pairs, assume_unique=True)]
    warm = np.unique(train_pairs // n_items)
    test_pairs = test_pairs[np.isin(test_pairs // n_items, warm)]
    users = (test_pairs // n_items).astype(np.int32)
    items = (test_pairs % n_items).astype(np.int32)
    starts, lengths = _groups(users)
    relevant = [
        items[start : start + length] for start, length in zip(starts, lengths, strict=True)
    ]
    return users[starts], relevant


def recall_at_k(recommended: IntArray, relevant: Sequence[IntArray], k: int) -> FloatArray:
    """Per customer: |top k ∩ relevant| / |relevant| (1.0 = every relevant item in the top k;
    a customer with more than k relevant items cannot reach 1)."""
    out = np.zeros(len(relevant))
    for row, items in enumerate(relevant):
        if len(items):
            out[row] = np.isin(recommended[row, :k], items).sum() / len(items)
    return out


def ndcg_at_k(recommended: IntArray, relevant: Sequence[IntArray], k: int) -> FloatArray:
    """Per customer: DCG@k / ideal DCG@k with binary relevance, DCG = sum over ranks r = 1..k
    of rel_r / log2(r + 1); the ideal ranks all relevant items first."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    out = np.zeros(len(relevant))
    for row, items in enumerate(relevant):
        if len(items):
            hits = np.isin(recommended[row, :k], items)
            out[row] = (hits * discounts[: len(hits)]).sum() / ideal[min(len(items), k) - 1]
    return out


def next_engagement_hours(
    test: Interactions, time_zone: str, user_time_zones: Mapping[int, str] | None = None
) -> IntArray:
    """Per user code, the local hour of their first test row (-1: none)."""
    result = np.full(test.n_users, -1, dtype=np.int32)
    if not len(test):
        return result
    local_hours, _ = local_hours_and_weekdays(test, time_zone, user_time_zones)
    order = np.lexsort((test.times, test.users))
    users = test.users[order]
    first = np.r_[True, users[1:] != users[:-1]]
    result[users[first]] = local_hours[order][first]
    return result


def hour_hit_rate(predicted_hours: npt.ArrayLike, next_hours: npt.ArrayLike) -> FloatArray:
    """Per customer with a next engagement (``next_hours`` >= 0): 1.0 when its hour is among
    their predicted hours (a row of ``predicted_hours``), else 0.0; the mean is the hit rate."""
    predicted = np.asarray(predicted_hours)
    upcoming = np.asarray(next_hours)
    if predicted.ndim == 1:
        predicted = np.broadcast_to(predicted, (len(upcoming), len(predicted)))
    present = upcoming >= 0
    hits = np.any(predicted[present] == upcoming[present, None], axis=1)
    result: FloatArray = hits.astype(np.float64)
    return result


def bootstrap_ci(
    values: npt.ArrayLike, n: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile bootstrap interval (``n`` resamples of
    the customers, with replacement)."""
    sample = np.asarray(values, dtype=np.float64)
    if not len(sample):
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.empty(n)
    chunk = max(1, 4_000_000 // len(sample))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        picks = rng.integers(0, len(sample), size=(stop - start, len(sample)))
        means[start:stop] = sample[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(sample.mean()), float(low), float(high)
