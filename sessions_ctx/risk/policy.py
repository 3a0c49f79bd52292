"""The operator's risk policy: rules from findings to actions (admin).

A rule matches a finding of its code with at least its confidence; the decision is the
strictest action of the matching rules (allow < step-up < end the session < block), allow
when none matches. A client with a policy of its own uses only that policy's rules; every
other client, and the provider's own pages, use the default policy (the one without a
client).

Rules change rarely (in the admin) and are read at every sign-in and context change: each
process keeps the rules of a client for ``RULES_CACHE_SECONDS``. A change is seen at once
by the process that saved it (``policy_rules_forget`` on save and delete, receivers.py) and
by the others within that time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..models import ACTION_RANK, Action, RiskRule
from .findings import Finding, confidence_at_least


@dataclass(frozen=True)
class Rule:
    finding: str
    min_confidence: str
    action: str


RULES_CACHE_SECONDS = 10.0
# Entries above this many empty the cache (client ids come from requests).
RULES_CACHE_MAX_ENTRIES = 1000

_rules_cache: dict[str, tuple[float, tuple[Rule, ...]]] = {}


def policy_rules(*, client_id: str = "") -> list[Rule]:
    """The rules that apply to ``client_id`` (its own policy, else the default)."""
    entry = _rules_cache.get(client_id)
    now = time.monotonic()
    if entry is not None and entry[0] >= now:
        return list(entry[1])
    rules = _policy_rules_read(client_id)
    if len(_rules_cache) > RULES_CACHE_MAX_ENTRIES:
        _rules_cache.clear()
    _rules_cache[client_id] = (now + RULES_CACHE_SECONDS, rules)
    return list(rules)


def policy_rules_forget(**_: object) -> None:
    """Drop every cached rule set (a policy or rule was saved or deleted)."""
    _rules_cache.clear()


def _policy_rules_read(client_id: str) -> tuple[Rule, ...]:
    rows: list[tuple[str, str, str]] = []
    if client_id:
        rows = list(
            RiskRule.objects.filter(policy__application__client_id=client_id).values_list(
                "finding", "min_confidence", "action"
            )
        )
        if not rows and not _client_has_policy(client_id):
            rows = _default_rows()
    else:
        rows = _default_rows()
    return tuple(Rule(*row) for row in rows)


# The default policy's rules when the database has none (migration 0002 creates the same
# rules as the default policy, which operators then edit; an empty default policy allows all).
BUILT_IN_RULES: tuple[tuple[str, str, str], ...] = (
    ("bad_address", "high", "block"),
    ("user_agent_changed", "high", "step_up"),
    ("impossible_travel", "medium", "step_up"),
    ("new_country", "medium", "step_up"),
    ("failed_attempts", "medium", "step_up"),
)


def _default_rows() -> list[tuple[str, str, str]]:
    from ..models import RiskPolicy

    rows = list(
        RiskRule.objects.filter(policy__application__isnull=True).values_list(
            "finding", "min_confidence", "action"
        )
    )
    if rows or RiskPolicy.objects.filter(application__isnull=True).exists():
        return rows
    return list(BUILT_IN_RULES)


def _client_has_policy(client_id: str) -> bool:
    from ..models import RiskPolicy

    return RiskPolicy.objects.filter(application__client_id=client_id).exists()


def action_for(findings: Iterable[Finding], rules: Iterable[Rule]) -> str:
    """The strictest action of the rules the findings match (module docstring)."""
    action = Action.ALLOW
    rules = list(rules)
    for finding in findings:
        for rule in rules:
            if rule.finding != finding.code:
                continue
            if not confidence_at_least(finding.confidence, rule.min_confidence):
                continue
            if ACTION_RANK.get(rule.action, 0) > ACTION_RANK[action]:  # type: ignore[call-overload]
                action = Action(rule.action)
    return str(action)
