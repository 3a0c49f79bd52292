"""Which optional profile question to ask at a sign-in, if any: a contextual bandit.

Progressive profiling asks a customer at most one optional question per sign-in. The ask
rules (profiling/rules.py) say which fields are eligible now (snooze after a skip, never
again after too many skips, the client, the position); this module decides which of them to
ask, and whether to ask one at all. It is pure Python (no Django, no database): the caller
reads the ``LearnerArm`` counts and the user's skips, and records the ``Decision`` and later
its outcome in ``ProfileQuestion`` and the arms.

The reward
    An answer is worth 1, a skip or a refused junk answer 0, and an abandoned sign-in (the
    customer left on the question page) costs ``abandon_weight`` answers: a lost sign-in
    costs the client far more than a missing field gains. Asking nothing is worth 0, so a
    question is asked only when its expected net reward is positive (``ask_threshold``).

Thompson sampling over Beta posteriors, per field and context bucket
    Each field has, in each context bucket (``context_bucket``), a Beta posterior of its
    answer rate and one of its abandonment rate. A bucket alone has few observations, so
    each borrows ``prior_strength`` pseudo-observations at the field's overall rate (bucket
    ``*``, itself smoothed with one answer and one non-answer): a new bucket starts at the
    overall rate and moves away from it as its own evidence grows (empirical-Bayes back-off)::

        p_answer  ~ Beta(1 + a_b + m r_a,  1 + (n_b - a_b) + m (1 - r_a))
        p_abandon ~ Beta(1 + x_b + m r_x,  1 + (n_b - x_b) + m (1 - r_x))
        net       = p_answer - abandon_weight * p_abandon - fatigue

    where ``n_b``, ``a_b``, ``x_b`` are the bucket's shown, answered and abandoned counts,
    ``r_a = (a + 1) / (n + 2)`` and ``r_x`` the overall rates and ``m = prior_strength``.
    Sampling from the posteriors (Thompson, 1933; Chapelle and Li, "An empirical evaluation
    of Thompson sampling", NIPS 2011) explores where the learner is unsure and exploits where
    it is not, with no tuning of an exploration schedule; the field with the best sampled net
    is asked when that net beats ``ask_threshold``, otherwise nothing is asked.

Fatigue: sleeping and recovering arms
    A field a customer skipped is worth less for a while to that customer: the penalty
    ``fatigue_weight * skips * exp(-days_since_skip / recovery_days)`` is taken from its net
    and fades as days pass, the way Duolingo's practice reminders treat a notification shown
    recently (Yancey and Settles, "A sleeping, recovering bandit algorithm for optimizing
    recurring notifications", KDD 2020). Fields not eligible now (snoozed, answered) are
    simply absent from the candidates: the "sleeping" arms.

Randomised decisions for offline evaluation
    With probability ``explore_rate`` the decision is instead uniform among the candidates
    and "ask nothing", marked ``explored`` with its propensity ``1 / (k + 1)``. Those logged
    decisions let another policy be evaluated offline without showing it to anyone: replay
    evaluation keeps the logged decisions where the policy would have chosen the same and
    averages their rewards (Li, Chu, Langford and Schapire, "A contextual-bandit approach to
    personalized news article recommendation", WWW 2010; Li, Chu, Langford and Wang,
    "Unbiased offline evaluation of contextual-bandit-based news article recommendation
    algorithms", WSDM 2011). ``replay_estimate`` does this, weighting each matched decision by
    the inverse of its propensity when the number of candidates differs between decisions.
    Replay scores each decision on the sign-ins the logger saw; a policy's own choices
    change a customer's later sign-ins (fields filled, fatigue), so it ranks policies but
    does not forecast their long-run rate (benchmarks/profiling.py measures both).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

DEVICE_GROUPS = {
    "desktop": "desktop",
    "phone": "mobile",
    "mobile": "mobile",
    "smartphone": "mobile",
}
DAY_PARTS = ((0, "night"), (6, "morning"), (12, "afternoon"), (18, "evening"))

# The bucket that counts every context (the back-off of every other bucket).
OVERALL_BUCKET = "*"


@dataclass(frozen=True)
class ArmCounts:
    """A ``LearnerArm`` row's counts (one field in one context bucket, or ``*``)."""

    shown: int = 0
    answered: int = 0
    skipped: int = 0
    abandoned: int = 0
    junk: int = 0


@dataclass(frozen=True)
class Candidate:
    """A field the ask rules allow now, with what the learner knows about it."""

    field_key: str
    bucket: ArmCounts  # counts in this context bucket
    overall: ArmCounts  # counts over every bucket (bucket "*")
    skips: int = 0  # this user's earlier skips of the field
    days_since_skip: float | None = None  # since this user's last skip of it


@dataclass(frozen=True)
class LearnerSettings:
    """The learner's knobs. The defaults are the best of a small grid in the simulation of
    benchmarks/profiling.py: a stronger back-off (25 pseudo-counts, where 4 left sparse
    buckets pessimistic about abandonment for long) and a lighter fatigue (0.2, where 0.5
    kept fields unasked long after their snooze ended)."""

    explore_rate: float = 0.05  # share of decisions made uniformly at random (logged)
    abandon_weight: float = 2.0  # an abandoned sign-in costs this many answers
    ask_threshold: float = 0.0  # ask only when the sampled net reward beats this
    fatigue_weight: float = 0.2  # penalty of a fresh skip, recovering over recovery_days
    recovery_days: float = 14.0
    prior_strength: float = 25.0  # pseudo-counts the overall rate lends each bucket

    def __post_init__(self) -> None:
        if not 0.0 <= self.explore_rate <= 1.0:
            raise ValueError("explore_rate must be between 0 and 1")
        if self.abandon_weight < 0 or self.fatigue_weight < 0 or self.prior_strength < 0:
            raise ValueError("abandon_weight, fatigue_weight and prior_strength must be >= 0")
        if self.recovery_days <= 0:
            raise ValueError("recovery_days must be positive")


@dataclass(frozen=True)
class Decision:
    """What to ask now, and how it was decided (stored with the question for the log)."""

    field_key: str | None  # None: ask nothing now
    explored: bool
    propensity: float  # probability the logging policy had of this choice
    scores: dict[str, float]  # sampled net reward per candidate (for the log and admin)


@dataclass(frozen=True)
class Estimate:
    """A policy's estimated mean reward per decision, from logged randomised decisions."""

    mean: float
    stderr: float
    matched: int  # logged decisions where the policy chose what was logged


def context_bucket(
    *, position: str, device_type: str, hour: int, weekday: int, sign_ins: int
) -> str:
    """The coarse, stable context bucket of a sign-in, e.g.
    ``"after_sign_in|mobile|evening|weekday|2-3"``.

    - ``position``: where the question would be shown (``Position`` value), as given;
    - device: ``desktop``; ``mobile`` for phones (``phone``, ``mobile``, ``smartphone``);
      ``other`` for anything else (tablets, unknown, bots);
    - day part of the local ``hour``: ``night`` 0-5, ``morning`` 6-11, ``afternoon`` 12-17,
      ``evening`` 18-23;
    - ``weekend`` when ``weekday`` is 5 or 6 (Monday is 0, as ``datetime.weekday()``),
      otherwise ``weekday``;
    - the user's sign-in number, this one included: ``1``, ``2-3`` or ``4+``.

    Few buckets (2 x 3 x 4 x 2 x 3 = 144 per field) so each gathers evidence quickly, and
    stable names so the counts survive deployments.
    """
    if not 0 <= hour <= 23:
        raise ValueError(f"hour must be 0-23, not {hour}")
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0-6, not {weekday}")
    device = DEVICE_GROUPS.get((device_type or "").strip().lower(), "other")
    day_part = next(name for start, name in reversed(DAY_PARTS) if hour >= start)
    week = "weekend" if weekday >= 5 else "weekday"
    band = "1" if sign_ins <= 1 else "2-3" if sign_ins <= 3 else "4+"
    return f"{position}|{device}|{day_part}|{week}|{band}"


def reward(outcome: str, settings: LearnerSettings | None = None) -> float:
    """The reward of a question's outcome (``Outcome`` value): answered 1, skipped or junk 0,
    abandoned ``-abandon_weight``. Unknown outcomes (pending) are a ``ValueError``."""
    settings = settings or LearnerSettings()
    if outcome == "answered":
        return 1.0
    if outcome in ("skipped", "junk"):
        return 0.0
    if outcome == "abandoned":
        return -settings.abandon_weight
    raise ValueError(f"no reward for outcome {outcome!r}")


def _overall_rate(hits: int, shown: int) -> float:
    """The overall rate smoothed with one hit and one miss (Laplace)."""
    return (max(0, hits) + 1.0) / (max(0, shown) + 2.0)


def _beta_parameters(
    hits: int, shown: int, overall_hits: int, overall_shown: int, strength: float
) -> tuple[float, float]:
    """The Beta posterior of a bucket's rate, backed off to the overall rate."""
    shown = max(0, shown)
    hits = min(max(0, hits), shown)
    prior = _overall_rate(overall_hits, overall_shown)
    return 1.0 + hits + strength * prior, 1.0 + (shown - hits) + strength * (1.0 - prior)


def _posteriors(
    candidate: Candidate, settings: LearnerSettings
) -> tuple[tuple[float, float], tuple[float, float]]:
    bucket, overall, strength = candidate.bucket, candidate.overall, settings.prior_strength
    answer = _beta_parameters(
        bucket.answered, bucket.shown, overall.answered, overall.shown, strength
    )
    abandon = _beta_parameters(
        bucket.abandoned, bucket.shown, overall.abandoned, overall.shown, strength
    )
    return answer, abandon


def posterior_mean(candidate: Candidate, settings: LearnerSettings) -> tuple[float, float]:
    """The posterior means of the candidate's answer rate and abandonment rate in its bucket
    (for the admin and for greedy decisions)."""
    (a1, b1), (a2, b2) = _posteriors(candidate, settings)
    return a1 / (a1 + b1), a2 / (a2 + b2)


def fatigue(candidate: Candidate, settings: LearnerSettings) -> float:
    """The penalty of the user's earlier skips of the field, fading over ``recovery_days``
    (none when never skipped)."""
    if candidate.skips <= 0:
        return 0.0
    days = max(0.0, candidate.days_since_skip or 0.0)
    return settings.fatigue_weight * candidate.skips * math.exp(-days / settings.recovery_days)


def _pick(scores: dict[str, float], order: Sequence[str], threshold: float) -> str | None:
    """The best-scoring field (the earliest of equals), or None when it does not beat the
    threshold."""
    best = max(order, key=lambda key: scores[key])
    return best if scores[best] > threshold else None


def choose(
    candidates: Sequence[Candidate], *, rng: random.Random, settings: LearnerSettings
) -> Decision:
    """The field to ask now, or none: Thompson sampling over each candidate's net reward,
    or with probability ``explore_rate`` a uniform choice among the candidates and nothing
    (logged with its propensity). See the module docstring."""
    if not candidates:
        return Decision(None, False, 1.0, {})
    scores: dict[str, float] = {}
    for candidate in candidates:
        (a1, b1), (a2, b2) = _posteriors(candidate, settings)
        p_answer = rng.betavariate(a1, b1)
        p_abandon = rng.betavariate(a2, b2)
        scores[candidate.field_key] = (
            p_answer - settings.abandon_weight * p_abandon - fatigue(candidate, settings)
        )
    order = [candidate.field_key for candidate in candidates]
    if rng.random() < settings.explore_rate:
        options: list[str | None] = [*order, None]
        return Decision(rng.choice(options), True, 1.0 / len(options), scores)
    return Decision(_pick(scores, order, settings.ask_threshold), False, 1.0, scores)


def greedy(candidates: Sequence[Candidate], *, settings: LearnerSettings) -> Decision:
    """What ``choose`` converges to: the best posterior-mean net reward, no sampling and no
    exploration (deterministic; for previews and offline evaluation)."""
    if not candidates:
        return Decision(None, False, 1.0, {})
    scores = {}
    for candidate in candidates:
        p_answer, p_abandon = posterior_mean(candidate, settings)
        scores[candidate.field_key] = (
            p_answer - settings.abandon_weight * p_abandon - fatigue(candidate, settings)
        )
    order = [candidate.field_key for candidate in candidates]
    return Decision(_pick(scores, order, settings.ask_threshold), False, 1.0, scores)


def fixed_order(candidates: Sequence[Candidate]) -> Decision:
    """The baseline: the first candidate (the rules' order), always asked."""
    if not candidates:
        return Decision(None, False, 1.0, {})
    return Decision(candidates[0].field_key, False, 1.0, {})


def replay_estimate(
    events: Iterable[tuple[Any, ...]], policy: Callable[[Any], str | None]
) -> Estimate:
    """The mean reward per decision ``policy`` would have had, from randomised logged
    decisions (Li et al., WSDM 2011).

    ``events`` are ``(context, logged_choice, reward)`` or ``(context, logged_choice, reward,
    propensity)``, the choice a field key or None (nothing asked). Only the events where
    ``policy(context)`` equals the logged choice count. With a constant number of choices
    (or no propensities) this is Li's replay: their plain mean. With propensities, each
    counts ``1 / propensity`` (self-normalised inverse propensity weighting), which removes
    the bias toward contexts with fewer candidates when their number varies. The events must
    come from the randomised share only (``Decision.explored``, or a uniform logger).

    ``stderr`` is the delta-method standard error of the (weighted) mean; with no match the
    estimate is ``nan``.
    """
    weights: list[float] = []
    rewards: list[float] = []
    for event in events:
        if len(event) not in (3, 4):
            raise ValueError("events are (context, logged_choice, reward[, propensity])")
        context, logged, value = event[0], event[1], float(event[2])
        propensity = float(event[3]) if len(event) == 4 else 1.0
        if not 0.0 < propensity <= 1.0:
            raise ValueError(f"propensity must be in (0, 1], not {propensity}")
        if policy(context) == logged:
            weights.append(1.0 / propensity)
            rewards.append(value)
    matched = len(rewards)
    if not matched:
        return Estimate(math.nan, math.nan, 0)
    total = sum(weights)
    mean = sum(w * r for w, r in zip(weights, rewards, strict=True)) / total
    if matched < 2:
        return Estimate(mean, math.nan, matched)
    # Var of a ratio estimator: sum(w^2 (r - mean)^2) / (sum w)^2, times n / (n - 1).
    spread = sum(w * w * (r - mean) ** 2 for w, r in zip(weights, rewards, strict=True))
    stderr = math.sqrt(spread * matched / (matched - 1)) / total
    return Estimate(mean, stderr, matched)
