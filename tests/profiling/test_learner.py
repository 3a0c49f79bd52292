"""The question learner (profiling/learner.py): pure functions, no database."""

from __future__ import annotations

import random

import pytest

from profiling.learner import (
    ArmCounts,
    Candidate,
    Decision,
    LearnerSettings,
    choose,
    context_bucket,
    fatigue,
    fixed_order,
    greedy,
    posterior_mean,
    replay_estimate,
    reward,
)

NO_EXPLORE = LearnerSettings(explore_rate=0.0)


def _counts(shown: int, answered: int, abandoned: int = 0) -> ArmCounts:
    skipped = shown - answered - abandoned
    return ArmCounts(shown=shown, answered=answered, skipped=skipped, abandoned=abandoned)


def _candidate(
    key: str, shown: int, answered: int, abandoned: int = 0, **kwargs: object
) -> Candidate:
    counts = _counts(shown, answered, abandoned)
    return Candidate(key, bucket=counts, overall=counts, **kwargs)  # type: ignore[arg-type]


def _share(candidates: list[Candidate], key: str | None, *, settings: LearnerSettings) -> float:
    rng = random.Random(7)
    picks = [choose(candidates, rng=rng, settings=settings).field_key for _ in range(2000)]
    return picks.count(key) / len(picks)


def test_prefers_the_field_answered_more_in_the_bucket() -> None:
    """Of two fields equal overall, the one answered more in this bucket is asked almost
    always; in another bucket where the other does better, the preference turns."""
    overall = _counts(400, 120)
    here = [
        Candidate("phone_number", bucket=_counts(100, 10), overall=overall),
        Candidate("interests", bucket=_counts(100, 60), overall=overall),
    ]
    assert _share(here, "interests", settings=NO_EXPLORE) > 0.95
    there = [
        Candidate("phone_number", bucket=_counts(100, 60), overall=overall),
        Candidate("interests", bucket=_counts(100, 10), overall=overall),
    ]
    assert _share(there, "phone_number", settings=NO_EXPLORE) > 0.95


def test_a_new_bucket_borrows_the_overall_rate() -> None:
    """With no data in its bucket, a field's posterior mean is near its overall rate, and
    the bucket's own evidence moves it away."""
    new = Candidate("birthdate", bucket=ArmCounts(), overall=_counts(1000, 600, 20))
    answer, abandon = posterior_mean(new, LearnerSettings())
    assert 0.5 < answer < 0.65
    assert abandon < 0.1
    seen = Candidate("birthdate", bucket=_counts(200, 20), overall=_counts(1000, 600, 20))
    assert posterior_mean(seen, LearnerSettings())[0] < 0.2


def test_a_fresh_skip_is_penalised_and_recovers_with_days() -> None:
    """A field this user just skipped loses to an equal one, and the penalty fades: after
    two months the two are asked about equally often."""
    settings = LearnerSettings(explore_rate=0.0)
    assert fatigue(_candidate("a", 10, 5), settings) == 0.0
    fresh = _candidate("address", 200, 100, skips=1, days_since_skip=0.0)
    later = _candidate("address", 200, 100, skips=1, days_since_skip=60.0)
    assert fatigue(fresh, settings) == pytest.approx(settings.fatigue_weight)
    assert fatigue(later, settings) < fatigue(fresh, settings) / 50
    other = _candidate("birthdate", 200, 100)
    assert _share([fresh, other], "address", settings=settings) < 0.1
    assert 0.35 < _share([later, other], "address", settings=settings) < 0.65
    twice = _candidate("address", 200, 100, skips=2, days_since_skip=0.0)
    assert fatigue(twice, settings) == pytest.approx(2 * fatigue(fresh, settings))


def test_a_bucket_with_high_abandonment_asks_nothing() -> None:
    """Where questions make people leave (mobile in the morning rush), nothing is asked;
    the same answer rate with few abandonments is asked."""
    overall = _counts(3000, 900, abandoned=90)
    risky = [
        Candidate("address", bucket=_counts(300, 90, abandoned=75), overall=overall),
        Candidate("phone_number", bucket=_counts(300, 60, abandoned=60), overall=overall),
    ]
    assert _share(risky, None, settings=NO_EXPLORE) > 0.99
    safe = [Candidate("address", bucket=_counts(300, 90, abandoned=3), overall=overall)]
    assert _share(safe, "address", settings=NO_EXPLORE) > 0.99
    assert greedy(risky, settings=NO_EXPLORE).field_key is None


def test_explored_decisions_carry_their_propensity_at_the_explore_rate() -> None:
    """About explore_rate of decisions are uniform among the k candidates and nothing,
    marked explored with propensity 1/(k+1); the others have propensity 1."""
    settings = LearnerSettings(explore_rate=0.2)
    candidates = [_candidate(key, 100, 50) for key in ("a", "b", "c")]
    rng = random.Random(11)
    decisions = [choose(candidates, rng=rng, settings=settings) for _ in range(5000)]
    explored = [d for d in decisions if d.explored]
    assert 0.17 < len(explored) / len(decisions) < 0.23
    assert {d.propensity for d in explored} == {0.25}
    assert {d.propensity for d in decisions if not d.explored} == {1.0}
    chosen = [d.field_key for d in explored]
    for option in ("a", "b", "c", None):
        assert 0.18 < chosen.count(option) / len(chosen) < 0.32
    assert set(decisions[0].scores) == {"a", "b", "c"}


def test_empty_candidates_ask_nothing() -> None:
    """Nothing eligible: nothing asked, whatever the policy."""
    rng = random.Random(1)
    empty = Decision(None, False, 1.0, {})
    assert choose([], rng=rng, settings=LearnerSettings(explore_rate=1.0)) == empty
    assert fixed_order([]) == empty
    assert greedy([], settings=LearnerSettings()) == empty


def test_fixed_order_asks_the_first_candidate() -> None:
    """The baseline asks the first eligible field, even a poor one."""
    candidates = [_candidate("phone_number", 100, 1), _candidate("interests", 100, 90)]
    assert fixed_order(candidates).field_key == "phone_number"


def test_replay_of_the_logging_policy_recovers_the_logged_mean() -> None:
    """A policy that always agrees with the logger matches every event, and its estimate is
    the logged mean reward."""
    rng = random.Random(3)
    events = []
    for i in range(3000):
        choice = rng.choice(["a", "b", None])
        value = {"a": float(rng.random() < 0.6), "b": float(rng.random() < 0.2), None: 0.0}
        events.append(((i, choice), choice, value[choice]))
    estimate = replay_estimate(events, lambda context: context[1])
    assert estimate.matched == len(events)
    assert estimate.mean == pytest.approx(sum(e[2] for e in events) / len(events))
    assert 0 < estimate.stderr < 0.02


def test_replay_estimates_another_policy_from_uniform_logs() -> None:
    """From uniformly random logs, always asking "a" is estimated within a few standard
    errors of its true mean, with contexts of different sizes weighted by propensity."""
    rng = random.Random(5)
    events = []
    for _ in range(20000):
        options = ["a", "b", None] if rng.random() < 0.5 else ["a", None]
        choice = rng.choice(options)
        value = float(rng.random() < (0.5 if choice == "a" else 0.1 if choice else 0.0))
        events.append((tuple(options), choice, value, 1 / len(options)))
    estimate = replay_estimate(events, lambda context: "a")
    assert abs(estimate.mean - 0.5) < 4 * estimate.stderr
    nothing = replay_estimate(events, lambda context: None)
    assert nothing.mean == 0.0


def test_replay_with_no_match_is_nan() -> None:
    """A policy never choosing what was logged has no estimate (and bad events are refused)."""
    estimate = replay_estimate([("ctx", "a", 1.0)], lambda context: "b")
    assert estimate.matched == 0
    assert estimate.mean != estimate.mean  # nan
    with pytest.raises(ValueError, match="propensity"):
        replay_estimate([("ctx", "a", 1.0, 0.0)], lambda context: "a")


@pytest.mark.parametrize(
    ("hour", "part"),
    [(0, "night"), (5, "night"), (6, "morning"), (11, "morning"), (12, "afternoon"),
     (17, "afternoon"), (18, "evening"), (23, "evening")],
)  # fmt: skip
def test_context_bucket_day_parts(hour: int, part: str) -> None:
    """Hours fall into night 0-5, morning 6-11, afternoon 12-17, evening 18-23."""
    bucket = context_bucket(
        position="after_sign_in", device_type="desktop", hour=hour, weekday=2, sign_ins=1
    )
    assert bucket == f"after_sign_in|desktop|{part}|weekday|1"


@pytest.mark.parametrize(
    ("device", "group"),
    [("desktop", "desktop"), ("phone", "mobile"), ("Mobile", "mobile"), ("tablet", "other"),
     ("bot", "other"), ("", "other")],
)  # fmt: skip
def test_context_bucket_devices(device: str, group: str) -> None:
    """Phones are mobile, desktops desktop, everything else (tablets, unknown) other."""
    bucket = context_bucket(
        position="before_return", device_type=device, hour=20, weekday=6, sign_ins=2
    )
    assert bucket == f"before_return|{group}|evening|weekend|2-3"


def test_context_bucket_sign_in_bands_and_weekend() -> None:
    """Sign-ins band into 1, 2-3 and 4+; Saturday and Sunday are the weekend; bad hours are
    refused."""
    bands = [
        context_bucket(position="p", device_type="phone", hour=9, weekday=4, sign_ins=n).split("|")[
            4
        ]
        for n in (1, 2, 3, 4, 40)
    ]
    assert bands == ["1", "2-3", "2-3", "4+", "4+"]
    assert "|weekend|" in context_bucket(
        position="p", device_type="phone", hour=9, weekday=5, sign_ins=1
    )
    with pytest.raises(ValueError, match="hour"):
        context_bucket(position="p", device_type="phone", hour=24, weekday=0, sign_ins=1)


def test_rewards() -> None:
    """Answers count 1, skips and junk 0, an abandoned sign-in minus abandon_weight."""
    settings = LearnerSettings(abandon_weight=3.0)
    assert reward("answered", settings) == 1.0
    assert reward("skipped", settings) == reward("junk", settings) == 0.0
    assert reward("abandoned", settings) == -3.0
    assert reward("abandoned") == -LearnerSettings().abandon_weight
    with pytest.raises(ValueError, match="pending"):
        reward("pending", settings)
