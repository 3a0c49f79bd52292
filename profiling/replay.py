"""Offline comparison of question policies on the randomised decisions (replay evaluation).

A share of the learner's decisions is made uniformly at random and logged with its
propensity (``LearnerDecision``). Replay keeps the logged decisions where a policy would
have chosen the same and averages their rewards (Li, Chu, Langford and Wang, WSDM 2011):
an estimate of the reward per decision that policy would have had, without showing it to
anyone. ``manage.py profiling_replay`` and the admin report print it for the learner as it
is now (greedy, no exploration), the fixed order and never asking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import learner
from .app_settings import app_settings
from .models import LearnerArm, LearnerDecision, Outcome

Context = tuple[str, tuple[str, ...]]  # (bucket, eligible field keys)
Event = tuple[Context, str | None, float, float]  # (context, choice, reward, propensity)


@dataclass(frozen=True)
class PolicyEstimate:
    name: str
    estimate: learner.Estimate


def replay_events(
    *, since: datetime | None = None
) -> list[tuple[Context, str | None, float, float]]:
    """The randomised decisions with a known outcome, as ``(context, choice, reward,
    propensity)``: nothing asked is worth 0, a question its outcome's reward (a question
    still waiting for an answer is left out)."""
    settings = learner.LearnerSettings(abandon_weight=app_settings.ABANDON_WEIGHT)
    decisions = LearnerDecision.objects.select_related("question").order_by("decided_at")
    if since is not None:
        decisions = decisions.filter(decided_at__gte=since)
    events: list[tuple[Context, str | None, float, float]] = []
    for decision in decisions.iterator():
        context: Context = (decision.bucket, tuple(decision.candidates or ()))
        if not decision.chosen:
            events.append((context, None, 0.0, decision.propensity))
            continue
        question = decision.question
        if question is None or question.outcome == Outcome.PENDING:
            continue
        events.append(
            (
                context,
                decision.chosen,
                learner.reward(question.outcome, settings),
                decision.propensity,
            )
        )
    return events


def _learner_policy() -> Any:
    """The learner as it is now: greedy on the current counts (no sampling, no exploration)."""
    settings = learner.LearnerSettings(abandon_weight=app_settings.ABANDON_WEIGHT)
    arms = {
        (arm.field.key, arm.bucket): arm.counts()
        for arm in LearnerArm.objects.select_related("field")
    }

    def policy(context: Context) -> str | None:
        bucket, keys = context
        candidates = [
            learner.Candidate(
                field_key=key,
                bucket=arms.get((key, bucket), learner.ArmCounts()),
                overall=arms.get((key, learner.OVERALL_BUCKET), learner.ArmCounts()),
            )
            for key in keys
        ]
        return learner.greedy(candidates, settings=settings).field_key

    return policy


def replay_compare(*, since: datetime | None = None) -> tuple[int, list[PolicyEstimate]]:
    """How many randomised decisions there are, and each policy's replay estimate."""
    events = replay_events(since=since)
    policies = {
        "learner": _learner_policy(),
        "fixed order": lambda context: context[1][0] if context[1] else None,
        "never ask": lambda context: None,
    }
    return len(events), [
        PolicyEstimate(name, learner.replay_estimate(events, policy))
        for name, policy in policies.items()
    ]
