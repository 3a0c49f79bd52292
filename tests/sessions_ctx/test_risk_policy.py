"""The risk policy: rules from findings to an action, the default one and a client's own."""

from __future__ import annotations

import pytest
from oauth2_provider.models import get_application_model

from sessions_ctx.models import Action, Confidence, FindingCode, RiskPolicy, RiskRule
from sessions_ctx.risk.findings import Finding, confidence_at_least
from sessions_ctx.risk.policy import Rule, action_for, policy_rules
from tests.factories import make_client

pytestmark = pytest.mark.django_db

DEFAULT_RULES = {
    (FindingCode.BAD_ADDRESS, Confidence.HIGH, Action.BLOCK),
    (FindingCode.USER_AGENT_CHANGED, Confidence.HIGH, Action.STEP_UP),
    (FindingCode.IMPOSSIBLE_TRAVEL, Confidence.MEDIUM, Action.STEP_UP),
    (FindingCode.NEW_COUNTRY, Confidence.MEDIUM, Action.STEP_UP),
    (FindingCode.FAILED_ATTEMPTS, Confidence.MEDIUM, Action.STEP_UP),
}


def finding(code: str, confidence: str = Confidence.HIGH) -> Finding:
    return Finding(code, confidence, {})


def test_the_default_policy_exists_with_its_rules():
    """The migrations install one default policy (no client) with the documented rules; a
    new device or network alone is not challenged."""
    policy = RiskPolicy.objects.get(application__isnull=True)
    rows = {(rule.finding, rule.min_confidence, rule.action) for rule in policy.rules.all()}
    assert rows == DEFAULT_RULES
    assert {(r.finding, r.min_confidence, r.action) for r in policy_rules()} == DEFAULT_RULES
    assert (
        action_for(
            [finding(FindingCode.NEW_DEVICE), finding(FindingCode.NEW_NETWORK)], policy_rules()
        )
        == Action.ALLOW
    )


def test_strictest_action_wins():
    """Of the rules the findings match, the strictest action is the decision (allow <
    step-up < end the session < block), whatever their order."""
    rules = [
        Rule(FindingCode.NEW_DEVICE, Confidence.LOW, Action.STEP_UP),
        Rule(FindingCode.BAD_ADDRESS, Confidence.LOW, Action.BLOCK),
        Rule(FindingCode.NEW_NETWORK, Confidence.LOW, Action.END_SESSION),
    ]
    findings = [finding(FindingCode.NEW_DEVICE), finding(FindingCode.NEW_NETWORK)]
    assert action_for(findings, rules) == Action.END_SESSION
    assert action_for(list(reversed(findings)), list(reversed(rules))) == Action.END_SESSION
    assert action_for([*findings, finding(FindingCode.BAD_ADDRESS)], rules) == Action.BLOCK
    assert action_for([finding(FindingCode.NEW_DEVICE)], rules) == Action.STEP_UP


def test_two_rules_for_one_finding_by_confidence():
    """One finding may have several rules: a low one steps up, a high one ends the session."""
    rules = [
        Rule(FindingCode.NEW_COUNTRY, Confidence.LOW, Action.STEP_UP),
        Rule(FindingCode.NEW_COUNTRY, Confidence.HIGH, Action.END_SESSION),
    ]
    assert (
        action_for([finding(FindingCode.NEW_COUNTRY, Confidence.MEDIUM)], rules) == Action.STEP_UP
    )
    assert (
        action_for([finding(FindingCode.NEW_COUNTRY, Confidence.HIGH)], rules) == Action.END_SESSION
    )


@pytest.mark.parametrize(
    ("confidence", "minimum", "matches"),
    [
        (Confidence.LOW, Confidence.LOW, True),
        (Confidence.LOW, Confidence.MEDIUM, False),
        (Confidence.MEDIUM, Confidence.MEDIUM, True),
        (Confidence.MEDIUM, Confidence.HIGH, False),
        (Confidence.HIGH, Confidence.LOW, True),
        (Confidence.HIGH, Confidence.HIGH, True),
        ("unknown", Confidence.LOW, False),
        (Confidence.HIGH, "unknown", False),
    ],
)
def test_minimum_confidence_is_honoured(confidence, minimum, matches):
    """A rule matches a finding of at least its confidence only; unknown values never
    match."""
    assert confidence_at_least(confidence, minimum) is matches
    rules = [Rule(FindingCode.NEW_DEVICE, minimum, Action.STEP_UP)]
    expected = Action.STEP_UP if matches else Action.ALLOW
    assert action_for([finding(FindingCode.NEW_DEVICE, confidence)], rules) == expected


def test_no_finding_or_no_matching_rule_allows():
    """Without findings, or with findings no rule names, the sign-in is allowed."""
    rules = [Rule(FindingCode.BAD_ADDRESS, Confidence.LOW, Action.BLOCK)]
    assert action_for([], rules) == Action.ALLOW
    assert action_for([finding(FindingCode.VELOCITY)], rules) == Action.ALLOW
    assert action_for([finding(FindingCode.VELOCITY)], []) == Action.ALLOW


def test_default_policy_decisions():
    """Under the default policy: a bad address blocks, a medium new country steps up, a low
    one (below its minimum) is allowed, and so is velocity."""
    rules = policy_rules()
    assert action_for([finding(FindingCode.BAD_ADDRESS)], rules) == Action.BLOCK
    assert (
        action_for([finding(FindingCode.NEW_COUNTRY, Confidence.MEDIUM)], rules) == Action.STEP_UP
    )
    assert action_for([finding(FindingCode.NEW_COUNTRY, Confidence.LOW)], rules) == Action.ALLOW
    assert action_for([finding(FindingCode.VELOCITY, Confidence.MEDIUM)], rules) == Action.ALLOW
    # Many sign-ins alone (test suites, shared devices) are recorded, not challenged.
    assert action_for([finding(FindingCode.VELOCITY, Confidence.HIGH)], rules) == Action.ALLOW


def _client_policy(client_id: str, rules: list[tuple[str, str, str]]) -> RiskPolicy:
    application = get_application_model().objects.get(client_id=client_id)
    policy = RiskPolicy.objects.create(name="Bank", application=application)
    for code, confidence, action in rules:
        RiskRule.objects.create(
            policy=policy, finding=code, min_confidence=confidence, action=action
        )
    return policy


def test_a_clients_own_policy_replaces_the_default():
    """A client with a policy of its own uses only its rules: stricter where it says so,
    and nothing of the default it does not repeat."""
    bank = make_client("web", name="Bank", redirect_uris=["https://bank.example/cb"])
    _client_policy(bank.client_id, [(FindingCode.NEW_DEVICE, Confidence.LOW, Action.STEP_UP)])
    rules = policy_rules(client_id=bank.client_id)
    assert rules == [Rule(FindingCode.NEW_DEVICE, Confidence.LOW, Action.STEP_UP)]
    assert action_for([finding(FindingCode.NEW_DEVICE, Confidence.MEDIUM)], rules) == Action.STEP_UP
    # The default's block of a bad address is not the bank's rule.
    assert action_for([finding(FindingCode.BAD_ADDRESS)], rules) == Action.ALLOW
    # Other clients, and no client, keep the default.
    shop = make_client("web", name="Shop", redirect_uris=["https://shop.example/cb"])
    default = {(r.finding, r.min_confidence, r.action) for r in policy_rules()}
    assert {
        (r.finding, r.min_confidence, r.action) for r in policy_rules(client_id=shop.client_id)
    } == default
    assert {
        (r.finding, r.min_confidence, r.action) for r in policy_rules(client_id="unknown")
    } == default


def test_a_clients_empty_policy_allows_everything():
    """A client's policy without rules is a policy: it allows every finding (it does not
    fall back to the default)."""
    lenient = make_client("web", name="Lenient", redirect_uris=["https://lenient.example/cb"])
    _client_policy(lenient.client_id, [])
    rules = policy_rules(client_id=lenient.client_id)
    assert rules == []
    assert action_for([finding(FindingCode.BAD_ADDRESS)], rules) == Action.ALLOW


def test_a_second_default_policy_is_refused():
    """There is one default policy: another without a client does not validate."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        RiskPolicy(name="Another default").full_clean()


def test_rules_are_kept_in_the_process_and_dropped_when_a_rule_changes(
    django_assert_num_queries,
):
    """The rules of a client are read once per RULES_CACHE_SECONDS; saving or deleting a
    policy or rule drops the cached copy, so the change applies from the next call."""
    bank = make_client("web", name="Bank", redirect_uris=["https://bank.example/cb"])
    policy = _client_policy(
        bank.client_id, [(FindingCode.NEW_DEVICE, Confidence.LOW, Action.STEP_UP)]
    )
    first = policy_rules(client_id=bank.client_id)
    with django_assert_num_queries(0):
        assert policy_rules(client_id=bank.client_id) == first
    rule = RiskRule.objects.create(
        policy=policy,
        finding=FindingCode.BAD_ADDRESS,
        min_confidence=Confidence.LOW,
        action=Action.BLOCK,
    )
    assert action_for(
        [finding(FindingCode.BAD_ADDRESS)], policy_rules(client_id=bank.client_id)
    ) == (Action.BLOCK)
    rule.delete()
    assert policy_rules(client_id=bank.client_id) == first
    policy.delete()
    default = {(r.finding, r.min_confidence, r.action) for r in policy_rules()}
    assert {
        (r.finding, r.min_confidence, r.action) for r in policy_rules(client_id=bank.client_id)
    } == default
