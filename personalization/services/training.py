"""Training: from the consented interactions to interests, recommendations, contact windows
and segments (``manage.py personalization_train``).

Only customers who grant a personalization purpose now are read, and only their
interactions filed under a personalization purpose they grant (LGPD art. 6 I: data serves
the purpose it was given for). The models are personalization/learning.py's (pure numpy and
scipy); this module reads the database, calls them and writes the results in bulk:

- **full** run: every consenting customer's history (``CIAM_PERSONALIZATION_HISTORY_DAYS``),
  the collaborative model fitted anew (item neighbours and the catalogue replaced), every
  insight rewritten, segments recomputed; derived rows of customers who no longer consent
  are deleted (the withdrawal receiver already did, this is the backstop).
- **incremental** run: only customers with interactions newer than the last run's, scored
  with the stored neighbours and the last full run's population rhythm; nothing is refitted.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from consent.models import GRANTING_ACTIONS, ConsentRecord
from consent.selectors import standing_records

from .. import learning
from ..app_settings import app_settings
from ..models import (
    CatalogueItem,
    Insight,
    Interest,
    InterestSource,
    ItemNeighbour,
    TrainingKind,
    TrainingRun,
)
from .consent import personalization_purposes
from .insight import interests_differ, shared_interests

logger = logging.getLogger(__name__)
BATCH = 2000


@dataclass(frozen=True)
class Consenting:
    """Customers who grant a personalization purpose now: user id -> purpose keys."""

    purposes: dict[int, set[str]]

    def first_purpose(self, user_id: int) -> str:
        return sorted(self.purposes[user_id])[0]


def consenting_customers(*, user_ids: list[int] | None = None) -> Consenting:
    """Every customer (of ``user_ids``, when given) whose latest ledger decision about some
    personalization purpose grants it (one query, a correlated subquery on the ledger's
    (user, purpose, sequence) index)."""
    purposes = {purpose.pk: purpose.key for purpose in personalization_purposes()}
    if not purposes or user_ids == []:
        return Consenting({})
    records = standing_records().filter(purpose_id__in=purposes)
    if user_ids is not None:
        records = records.filter(user_id__in=user_ids)
    rows = records.values_list("user_id", "purpose_id", "action")
    found: dict[int, set[str]] = defaultdict(set)
    for user_id, purpose_id, action in rows.iterator(chunk_size=BATCH):
        if action in GRANTING_ACTIONS:
            found[user_id].add(purposes[purpose_id])
    return Consenting(dict(found))


def _text(value: Any) -> str:
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = " ".join(str(value).split())
        return text[:200]
    return ""


def interaction_rows(
    user_id: int, kind: str, occurred: float, properties: Any
) -> Iterator[tuple[int, str, str, str, str, float]]:
    """The model rows of one interaction: its ``item``/``category``/``brand`` properties, or
    one row per entry of a purchase's ``items`` list (README "Personalization")."""
    if not isinstance(properties, dict):
        return
    entries = properties.get("items")
    if isinstance(entries, list) and entries:
        for entry in entries[:100]:
            if isinstance(entry, dict):
                item, category, brand = (
                    _text(entry.get("item")),
                    _text(entry.get("category")),
                    _text(entry.get("brand")),
                )
                if item or category or brand:
                    yield (user_id, item, category, brand, kind, occurred)
        return
    item, category, brand = (
        _text(properties.get("item")),
        _text(properties.get("category")),
        _text(properties.get("brand")),
    )
    if item or category or brand:
        yield (user_id, item, category, brand, kind, occurred)


def _interactions(
    consenting: Consenting, *, through: int, user_ids: Iterable[int] | None = None
) -> tuple[list[tuple[int, str, str, str, str, float]], int]:
    """The model rows of the consenting customers' usable interactions, and the highest
    interaction id read."""
    from interactions.models import Interaction

    weights = app_settings.TYPE_WEIGHTS
    kinds = [kind for kind, weight in weights.items() if weight > 0]
    since = timezone.now() - timedelta(days=app_settings.HISTORY_DAYS)
    keys = set().union(*consenting.purposes.values()) if consenting.purposes else set()
    queryset = Interaction.objects.filter(
        user__isnull=False,
        type__in=kinds,
        occurred_at__gte=since,
        purpose__in=keys,
        id__lte=through,
    )
    wanted = set(consenting.purposes) if user_ids is None else set(user_ids)
    rows: list[tuple[int, str, str, str, str, float]] = []
    through = 0
    columns = ("id", "user_id", "type", "occurred_at", "properties", "purpose")
    if user_ids is not None:
        chunks: list[Any] = [
            queryset.filter(user_id__in=chunk) for chunk in _chunks(sorted(wanted), 500)
        ]
    else:
        chunks = [queryset]
    for part in chunks:
        for pk, user_id, kind, occurred_at, properties, purpose in part.values_list(
            *columns
        ).iterator(chunk_size=BATCH):
            through = max(through, pk)
            granted = consenting.purposes.get(user_id)
            if not granted or purpose not in granted or user_id not in wanted:
                continue
            rows.extend(interaction_rows(user_id, kind, occurred_at.timestamp(), properties))
    return rows, through


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _user_zones(user_ids: Iterable[int]) -> dict[int, str]:
    """The ``zoneinfo`` profile value of customers who gave one (a valid IANA name)."""
    from zoneinfo import available_timezones

    from profiling.models import Profile

    valid = available_timezones()
    zones: dict[int, str] = {}
    for chunk in _chunks(sorted(user_ids), 500):
        for user_id, values in Profile.objects.filter(user_id__in=chunk).values_list(
            "user_id", "values"
        ):
            zone = values.get("zoneinfo") if isinstance(values, dict) else None
            if isinstance(zone, str) and zone in valid:
                zones[user_id] = zone
    return zones


# --- what a run writes ------------------------------------------------------------------------


@dataclass
class Derived:
    """What the models computed for some customers (by user id)."""

    affinities: dict[int, list[learning.Affinity]]
    recommendations: dict[int, list[dict[str, Any]]]
    hours: dict[int, list[int]]
    weekdays: dict[int, list[int]]
    from_prior: dict[int, bool]
    interactions: dict[int, int]
    engaged_at: dict[int, float]


def _engaged_at(data: learning.Interactions) -> dict[int, float]:
    last = np.full(data.n_users, -np.inf)
    np.maximum.at(last, data.users, data.times)
    return {data.user_ids[code]: float(at) for code, at in enumerate(last.tolist()) if at > 0}


def _moments(
    data: learning.Interactions, zones: dict[int, str], population: dict[str, Any] | None
) -> learning.BestMoments:
    codes = data.user_codes()
    return learning.best_moment(
        data,
        time_zone=app_settings.TIME_ZONE,
        prior_strength=app_settings.PRIOR_STRENGTH,
        hours=app_settings.BEST_HOURS,
        weekdays=app_settings.BEST_WEEKDAYS,
        user_time_zones={codes[user]: zone for user, zone in zones.items() if user in codes},
        population_hours=(population or {}).get("hours"),
        population_weekdays=(population or {}).get("weekdays"),
    )


def _derived(
    data: learning.Interactions,
    recommended: dict[int, list[dict[str, Any]]],
    predicted: dict[int, list[int]],
    zones: dict[int, str],
    population: dict[str, Any] | None,
    now: float,
) -> tuple[Derived, learning.BestMoments]:
    by_code = learning.affinities(
        data,
        now=now,
        half_life_days=app_settings.HALF_LIFE_DAYS,
        weights=app_settings.TYPE_WEIGHTS,
        min_score=app_settings.MIN_SCORE,
        predicted=predicted,
    )
    moments = _moments(data, zones, population)
    ids = data.user_ids
    derived = Derived(
        affinities={ids[code]: found for code, found in by_code.items()},
        recommendations=recommended,
        hours={ids[c]: [int(h) for h in row] for c, row in enumerate(moments.hours.tolist())},
        weekdays={ids[c]: [int(d) for d in row] for c, row in enumerate(moments.weekdays.tolist())},
        from_prior={ids[c]: bool(flag) for c, flag in enumerate(moments.from_prior.tolist())},
        interactions={ids[c]: int(n) for c, n in enumerate(moments.interactions.tolist())},
        engaged_at=_engaged_at(data),
    )
    return derived, moments


def _write(derived: Derived, user_ids: list[int], zones: dict[int, str]) -> int:
    """Replace the inferred interests and the insights of ``user_ids`` (in one transaction
    per batch of customers); the customers' own and removed interests stay. Emits
    ``personalization.interests_changed`` for customers whose shared interests changed."""
    from events.services.outbox import event_emit_many
    from events.tags import requires, tagged

    changed = 0
    now = timezone.now()
    purpose_ids = {purpose.key: purpose.pk for purpose in personalization_purposes()}
    for batch in _chunks(user_ids, 500):
        with transaction.atomic():
            # The ledger locks a customer's row to record a decision (consent/services/
            # ledger.py), the customer's own edits too: so does this batch, then it reads
            # consent again. A withdrawal or an edit during the run wins; an erased customer
            # is skipped.
            users = {
                user.pk: user
                for user in get_user_model()
                .objects.select_for_update()
                .filter(pk__in=batch)
                .order_by("pk")
                .only("pk", "public_id")
            }
            consenting = consenting_customers(user_ids=sorted(users))
            chunk = [user_id for user_id in batch if user_id in consenting.purposes]
            if not chunk:
                continue
            kept: dict[int, list[Interest]] = defaultdict(list)
            for row in Interest.objects.filter(user_id__in=chunk).exclude(
                source=InterestSource.INFERRED, hidden=False
            ):
                kept[row.user_id].append(row)
            Interest.objects.filter(
                user_id__in=chunk, source=InterestSource.INFERRED, hidden=False
            ).delete()
            previous = dict(
                Insight.objects.filter(user_id__in=chunk).values_list("user_id", "interests")
            )
            new_rows: list[Interest] = []
            insights: list[Insight] = []
            events: list[dict[str, Any]] = []
            for user_id in chunk:
                taken = {(row.kind, row.key.casefold()) for row in kept[user_id]}
                inferred = [
                    Interest(
                        user_id=user_id,
                        kind=found.kind,
                        key=found.key[:200],
                        score=round(float(found.score), 4),
                        source=InterestSource.INFERRED,
                        evidence={
                            **found.evidence,
                            **(
                                {"last_at": datetime.fromtimestamp(found.last_at, UTC).isoformat()}
                                if found.last_at
                                else {}
                            ),
                        },
                        updated_at=now,
                    )
                    for found in derived.affinities.get(user_id, [])
                    if (found.kind, found.key[:200].casefold()) not in taken
                ]
                new_rows.extend(inferred)
                shared = shared_interests([*kept[user_id], *inferred])
                engaged = derived.engaged_at.get(user_id)
                insights.append(
                    Insight(
                        user_id=user_id,
                        interests=shared,
                        recommendations=derived.recommendations.get(user_id, []),
                        best_hours=derived.hours.get(user_id, []),
                        best_weekdays=derived.weekdays.get(user_id, []),
                        time_zone=zones.get(user_id, app_settings.TIME_ZONE),
                        window_from_prior=derived.from_prior.get(user_id, True),
                        interactions=derived.interactions.get(user_id, 0),
                        engaged_at=datetime.fromtimestamp(engaged, UTC) if engaged else None,
                        purposes=sorted(
                            purpose_ids[key]
                            for key in consenting.purposes[user_id]
                            if key in purpose_ids
                        ),
                        computed_at=now,
                    )
                )
                if interests_differ(previous.get(user_id, []), shared):
                    changed += 1
                    events.append(
                        {
                            "type": "personalization.interests_changed",
                            "user": users[user_id],
                            "data": {
                                "_requires": requires(purpose=consenting.first_purpose(user_id)),
                                "interests": tagged(
                                    shared, purpose=consenting.first_purpose(user_id)
                                ),
                            },
                        }
                    )
            # The customers' rows are locked: no edit of theirs can collide; a conflict left
            # by anything else keeps the row already there.
            Interest.objects.bulk_create(new_rows, batch_size=BATCH, ignore_conflicts=True)
            Insight.objects.bulk_create(
                insights,
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["user"],
                update_fields=[
                    "interests",
                    "recommendations",
                    "best_hours",
                    "best_weekdays",
                    "time_zone",
                    "window_from_prior",
                    "interactions",
                    "engaged_at",
                    "purposes",
                    "computed_at",
                ],
            )
            event_emit_many(items=events)
    return changed


def _forget_non_consenting(consenting: Consenting) -> int:
    """The backstop of the withdrawal receiver: derived rows of customers who do not grant
    a personalization purpose now are deleted."""
    from ..models import SegmentMembership

    stale: set[int] = set()
    for model in (Insight, Interest, SegmentMembership):
        ids = set(model.objects.values_list("user_id", flat=True).distinct())
        stale |= ids - set(consenting.purposes)
    deleted = 0
    for chunk in _chunks(sorted(stale), 500):
        with transaction.atomic():
            for model in (Interest, Insight, SegmentMembership):
                deleted += model.objects.filter(user_id__in=chunk).delete()[0]
    return deleted


def _recommendations(
    data: learning.Interactions, model: learning.Recommender
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[int]]]:
    """Each customer's next items (best first, with the seen item behind each) by user id,
    and the same as item codes by user code (the predicted interests' input)."""
    count = app_settings.RECOMMENDATIONS
    codes = np.arange(data.n_users, dtype=np.int32)
    items, scores = model.recommend(codes, count)
    because = model.because(codes, items)
    by_user: dict[int, list[dict[str, Any]]] = {}
    predicted: dict[int, list[int]] = {}
    keys, categories, brands = data.item_keys, data.category_keys, data.brand_keys
    for code, (row, row_scores, row_because) in enumerate(
        zip(items.tolist(), scores.tolist(), because.tolist(), strict=True)
    ):
        found = []
        for item, score, reason in zip(row, row_scores, row_because, strict=True):
            if item < 0:
                continue
            category, brand = int(data.item_category[item]), int(data.item_brand[item])
            found.append(
                {
                    "item": keys[item],
                    "category": categories[category] if category >= 0 else "",
                    "brand": brands[brand] if brand >= 0 else "",
                    "score": round(float(score), 4),
                    "because": keys[reason] if reason >= 0 else "",
                }
            )
        if found:
            by_user[data.user_ids[code]] = found
            predicted[code] = [item for item in row if item >= 0]
    return by_user, predicted


# How a customer's summed weights count in the item-item model: taken or not (the best of
# linear, log and binary in benchmarks/personalization.py's tuning).
SCALING = "binary"


def _model() -> learning.Recommender:
    """The configured model, with the settings benchmarks/personalization.py's tuning chose
    on its validation split."""
    if app_settings.MODEL == "als":
        return learning.AlsModel(factors=256, regularization=100.0, alpha=50.0)
    return learning.ItemItemModel(neighbours=app_settings.NEIGHBOURS, scaling=SCALING)


def _catalogue_replace(data: learning.Interactions, now: float, model: Any) -> None:
    """The catalogue (category, brand, popularity per item) and, for the item-item model,
    the stored neighbours, replaced."""
    row_weights = learning.interaction_weights(
        data, now=now, half_life_days=app_settings.HALF_LIFE_DAYS, weights=app_settings.TYPE_WEIGHTS
    )
    mask = data.items >= 0
    popularity = np.bincount(
        data.items[mask], weights=row_weights[mask], minlength=data.n_items
    ).tolist()
    customers = learning.item_customers(data, row_weights).tolist()
    items = [
        CatalogueItem(
            key=key[:200],
            category=data.category_keys[c] if (c := int(data.item_category[code])) >= 0 else "",
            brand=data.brand_keys[b] if (b := int(data.item_brand[code])) >= 0 else "",
            popularity=round(float(popularity[code]), 4),
            customers=int(customers[code]),
        )
        for code, key in enumerate(data.item_keys)
    ]
    with transaction.atomic():
        CatalogueItem.objects.all().delete()
        CatalogueItem.objects.bulk_create(items, batch_size=BATCH)
        ItemNeighbour.objects.all().delete()
        if isinstance(model, learning.ItemItemModel):
            keys = data.item_keys
            ItemNeighbour.objects.bulk_create(
                (
                    ItemNeighbour(item=keys[item], neighbour=keys[other], score=float(score))
                    for item, other, score in model.neighbours()
                ),
                batch_size=BATCH,
            )


def _segments(user_ids: list[int] | None) -> None:
    from .segments import segments_recompute

    segments_recompute(users=user_ids)


def personalization_train(*, kind: str = "auto") -> TrainingRun:
    """One training run (``full``, ``incremental`` or ``auto``: full when no full run
    finished in the last ``CIAM_PERSONALIZATION_FULL_EVERY_HOURS``). Recorded as a
    ``TrainingRun``, with its error when it failed (then raised again)."""
    if kind == "auto":
        since = timezone.now() - timedelta(hours=app_settings.FULL_EVERY_HOURS)
        recent_full = TrainingRun.objects.filter(
            kind=TrainingKind.FULL, finished_at__gte=since, error=""
        ).exists()
        # ALS keeps no neighbours to score a customer from: its runs are all full ones.
        incremental = recent_full and app_settings.MODEL != "als"
        kind = TrainingKind.INCREMENTAL if incremental else TrainingKind.FULL
    if kind not in TrainingKind.values:
        raise ValueError(f"unknown training kind {kind!r}")
    with _one_run_at_a_time():
        return _run(kind)


class TrainingBusy(RuntimeError):
    """Another training run is under way."""


# A run that has not finished after this long is taken for dead (its process killed).
RUN_STALE_HOURS = 6
# The PostgreSQL advisory lock key of training runs (any constant of this application).
ADVISORY_LOCK_KEY = 0x43494D5050  # "CIMPP"


@contextmanager
def _one_run_at_a_time() -> Iterator[None]:
    """One run at a time across processes and hosts: PostgreSQL's advisory lock (held by
    this connection for the run), and everywhere a look for an unfinished recent run."""
    from django.db import connection

    locked = False
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            locked = bool(cursor.fetchone()[0])
        if not locked:
            raise TrainingBusy("another personalization training run is under way")
    try:
        stale = timezone.now() - timedelta(hours=RUN_STALE_HOURS)
        if TrainingRun.objects.filter(finished_at__isnull=True, started_at__gte=stale).exists():
            raise TrainingBusy("another personalization training run is under way")
        yield
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


def _run(kind: str) -> TrainingRun:
    run = TrainingRun.objects.create(kind=kind, model=app_settings.MODEL)
    started = time.perf_counter()
    try:
        if kind == TrainingKind.FULL:
            _train_full(run)
        else:
            _train_incremental(run)
    except Exception as error:
        run.error = f"{type(error).__name__}: {error}"[:2000]
        run.seconds = time.perf_counter() - started
        run.finished_at = timezone.now()
        run.save()
        logger.exception("personalization training failed")
        raise
    run.seconds = time.perf_counter() - started
    run.finished_at = timezone.now()
    run.save()
    return run


def _train_full(run: TrainingRun) -> None:
    now = time.time()
    # The mark first: what arrives while the run reads is the next run's.
    run.through_interaction = _last_interaction_id()
    consenting = consenting_customers()
    _forget_non_consenting(consenting)
    rows, _read = _interactions(consenting, through=run.through_interaction)
    data = learning.interactions_from_rows(rows)
    run.users, run.interactions, run.items = data.n_users, len(rows), data.n_items
    user_ids = sorted(consenting.purposes)
    zones = _user_zones(user_ids)
    model = _model()
    if len(data):
        model.fit(
            data,
            now=now,
            half_life_days=app_settings.HALF_LIFE_DAYS,
            weights=app_settings.TYPE_WEIGHTS,
        )
        recommended, predicted = _recommendations(data, model)
        derived, moments = _derived(data, recommended, predicted, zones, None, now)
        run.population = {
            "hours": [round(float(v), 6) for v in moments.population_hours.tolist()],
            "weekdays": [round(float(v), 6) for v in moments.population_weekdays.tolist()],
        }
    else:
        derived = Derived({}, {}, {}, {}, {}, {}, {})
    _catalogue_replace(data, now, model if len(data) else None)
    _write(derived, user_ids, zones)
    _segments(None)


def _last_interaction_id() -> int:
    from interactions.models import Interaction

    last = Interaction.objects.order_by("-id").values_list("id", flat=True).first()
    return int(last or 0)


# An interaction committed late (its transaction began before the last run's mark) or a
# visitor's activity linked to the customer since: looked for this far back as well.
LATE_SECONDS = 60


def _changed_customers(consenting: Consenting, last: TrainingRun, *, through: int) -> list[int]:
    """Consenting customers with interactions newer than ``last`` read (or received or
    linked to them shortly before it started), or who granted a personalization purpose
    since it started."""
    from django.db.models import Q

    from interactions.models import Interaction

    since = last.started_at - timedelta(seconds=LATE_SECONDS)
    changed = set(
        Interaction.objects.filter(user__isnull=False, id__lte=through)
        .filter(
            Q(id__gt=last.through_interaction) | Q(received_at__gte=since) | Q(linked_at__gte=since)
        )
        .values_list("user_id", flat=True)
        .distinct()
    )
    changed |= set(
        ConsentRecord.objects.filter(
            at__gte=last.started_at, purpose__in=personalization_purposes(), user__isnull=False
        )
        .values_list("user_id", flat=True)
        .distinct()
    )
    return sorted(changed & set(consenting.purposes))


def _train_incremental(run: TrainingRun) -> None:
    now = time.time()
    last = (
        TrainingRun.objects.filter(finished_at__isnull=False, error="")
        .exclude(pk=run.pk)
        .order_by("-started_at")
        .first()
    )
    full = (
        TrainingRun.objects.filter(kind=TrainingKind.FULL, finished_at__isnull=False, error="")
        .order_by("-started_at")
        .first()
    )
    if last is None or full is None or app_settings.MODEL == "als":
        run.kind = TrainingKind.FULL
        return _train_full(run)
    run.through_interaction = max(last.through_interaction, _last_interaction_id())
    consenting = consenting_customers()
    user_ids = _changed_customers(consenting, last, through=run.through_interaction)
    if not user_ids:
        return None
    rows, _read = _interactions(consenting, through=run.through_interaction, user_ids=user_ids)
    data = learning.interactions_from_rows(rows)
    run.users, run.interactions, run.items = len(user_ids), len(rows), data.n_items
    zones = _user_zones(user_ids)
    recommended = _recommendations_from_neighbours(data, now)
    derived, _moments_found = _derived(data, recommended, {}, zones, full.population, now)
    _predicted_from_catalogue(data, derived, now)
    _write(derived, user_ids, zones)
    _segments(user_ids)
    return None


def _recommendations_from_neighbours(
    data: learning.Interactions, now: float
) -> dict[int, list[dict[str, Any]]]:
    """Recommendations of the customers in ``data`` from the stored item neighbours (the
    last full run's item-item model), without refitting."""
    matrix = learning.user_item_matrix(
        data, now=now, half_life_days=app_settings.HALF_LIFE_DAYS, weights=app_settings.TYPE_WEIGHTS
    )
    keys = data.item_keys
    neighbours: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for chunk in _chunks(keys, 500):
        for item, other, score in ItemNeighbour.objects.filter(item__in=chunk).values_list(
            "item", "neighbour", "score"
        ):
            neighbours[item].append((other, score))
    catalogue = {
        key: (category, brand)
        for key, category, brand in CatalogueItem.objects.filter(
            key__in=[other for pairs in neighbours.values() for other, _ in pairs]
        ).values_list("key", "category", "brand")
    }
    by_user: dict[int, list[dict[str, Any]]] = {}
    for code in range(data.n_users):
        row = matrix.getrow(code)
        seen = {
            keys[item]: learning.scale_weight(float(w), SCALING)
            for item, w in zip(row.indices, row.data, strict=True)
        }
        found = learning.recommend_from_neighbours(
            seen, neighbours, app_settings.RECOMMENDATIONS, exclude=seen
        )
        if not found:
            continue
        by_user[data.user_ids[code]] = [
            {
                "item": item,
                "category": catalogue.get(item, ("", ""))[0],
                "brand": catalogue.get(item, ("", ""))[1],
                "score": round(float(score), 4),
                "because": because,
            }
            for item, score, because in found
        ]
    return by_user


# A predicted interest is worth at most this share of own activity (learning.affinities).
PREDICTED_WEIGHT = 0.5


def _predicted_from_catalogue(data: learning.Interactions, derived: Derived, now: float) -> None:
    """Predicted interests of an incremental run, as ``learning.affinities`` computes them in
    a full one: the categories and brands filling a customer's recommendations that they
    never touched, scored by their share of the recommendations, with the number of
    customers who took the most-taken of those items (the catalogue's count) as evidence."""
    row_weights = learning.interaction_weights(
        data, now=now, half_life_days=app_settings.HALF_LIFE_DAYS, weights=app_settings.TYPE_WEIGHTS
    )
    touched: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for code, category, brand, weight in zip(
        data.users.tolist(),
        data.categories.tolist(),
        data.brands.tolist(),
        row_weights.tolist(),
        strict=True,
    ):
        if weight <= 0:
            continue
        user_id = data.user_ids[code]
        if category >= 0:
            touched[user_id].add(("category", data.category_keys[category]))
        if brand >= 0:
            touched[user_id].add(("brand", data.brand_keys[brand]))
    items = {item["item"] for found in derived.recommendations.values() for item in found}
    customers = dict(
        CatalogueItem.objects.filter(key__in=list(items)).values_list("key", "customers")
    )
    for user_id, found in derived.recommendations.items():
        own = derived.affinities.setdefault(user_id, [])
        taken = touched[user_id] | {(a.kind, a.key) for a in own}
        for kind in ("category", "brand"):
            shares: dict[str, list[str]] = defaultdict(list)
            for entry in found:
                if entry[kind] and (kind, entry[kind]) not in taken:
                    shares[entry[kind]].append(entry["item"])
            for key, members in shares.items():
                score = PREDICTED_WEIGHT * len(members) / len(found)
                if score < app_settings.MIN_SCORE:
                    continue
                similar = max(customers.get(item, 0) for item in members)
                own.append(
                    learning.Affinity(kind, key, score, {"similar_customers": similar}, None, True)
                )
        own.sort(key=lambda a: (-a.score, a.predicted, a.kind, a.key))
