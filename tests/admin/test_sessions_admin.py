"""Operators see browser sessions, risk decisions and known devices read-only, sign
sessions out, and edit risk policies with their rules (sessions_ctx/admin.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from ciam.models import BackchannelLogoutDelivery
from sessions_ctx.models import (
    Action,
    BrowserSession,
    EndReason,
    RiskDecision,
    RiskPolicy,
    RiskRule,
    UserDevice,
)
from tests.factories import UserFactory
from tests.sessions_ctx.test_account_sessions import (
    PHONE,
    is_signed_in,
    record_of,
    signed_in_browser,
    with_backchannel_client,
)

pytestmark = pytest.mark.django_db
HOST = {"HTTP_HOST": "localhost"}
SESSIONS = "/admin/sessions_ctx/browsersession/"


@pytest.fixture
def operator_client(client):
    operator = get_user_model().objects.create_superuser(
        email="operator@example.com", password="operator-password-1"
    )
    client.force_login(operator)
    return client


@pytest.fixture
def customer():
    return UserFactory(email="ana@example.com")


@pytest.mark.parametrize(
    "url",
    [
        SESSIONS,
        SESSIONS + "?state=active",
        SESSIONS + "?state=ended",
        SESSIONS + "?q=ana%40example.com",
        SESSIONS + "?q=203.0.113.9",
        "/admin/sessions_ctx/riskdecision/",
        "/admin/sessions_ctx/riskdecision/?action__exact=step_up&trigger__exact=sign_in",
        "/admin/sessions_ctx/riskdecision/?q=ana",
        "/admin/sessions_ctx/riskpolicy/",
        "/admin/sessions_ctx/riskpolicy/add/",
        "/admin/sessions_ctx/userdevice/",
    ],
)
def test_pages_render(operator_client, customer, url):
    signed_in_browser(customer, PHONE, "203.0.113.9")
    assert operator_client.get(url, **HOST).status_code == 200


def test_session_list_shows_and_searches(operator_client, customer):
    """The list shows who, which browser, the address; search by email or address."""
    signed_in_browser(customer, PHONE, "203.0.113.9")
    signed_in_browser(UserFactory(email="bruno@example.com"), PHONE, "198.51.100.1")
    text = operator_client.get(SESSIONS + "?q=ana%40example.com", **HOST).content.decode()
    assert "ana@example.com" in text
    assert "Mobile Safari · iOS" in text
    assert "bruno@example.com" not in text
    text = operator_client.get(SESSIONS + "?q=198.51.100.1", **HOST).content.decode()
    assert "bruno@example.com" in text
    assert "ana@example.com" not in text


def test_session_page_is_read_only_and_hides_the_session_key(operator_client, customer):
    record = record_of(signed_in_browser(customer, PHONE))
    response = operator_client.get(f"{SESSIONS}{record.pk}/change/", **HOST)
    assert response.status_code == 200
    text = response.content.decode()
    assert record.session_key not in text
    assert 'name="_save"' not in text
    assert operator_client.get(SESSIONS + "add/", **HOST).status_code == 403


def test_sign_out_action_ends_the_sessions_and_tells_their_clients(operator_client, customer):
    """The action "Sign out selected sessions": each browser is signed out, each record ends as
    "by an administrator", and their clients get back-channel logout deliveries."""
    phone = signed_in_browser(customer, PHONE)
    laptop = signed_in_browser(customer)
    kept = signed_in_browser(customer, PHONE, "192.0.2.5")
    targets = [record_of(phone), record_of(laptop)]
    with_backchannel_client(customer, targets[0])
    response = operator_client.post(
        SESSIONS,
        {
            "action": "sign_out_sessions",
            "_selected_action": [str(record.pk) for record in targets],
        },
        follow=True,
        **HOST,
    )
    assert response.status_code == 200
    assert "2 sessions signed out." in response.content.decode()
    for record in targets:
        record.refresh_from_db()
        assert record.end_reason == EndReason.REVOKED_BY_OPERATOR
    assert not is_signed_in(phone)
    assert not is_signed_in(laptop)
    assert is_signed_in(kept)
    assert BackchannelLogoutDelivery.objects.count() == 1


def test_sign_out_action_skips_ended_sessions(operator_client, customer):
    record = record_of(signed_in_browser(customer, PHONE))
    BrowserSession.objects.filter(pk=record.pk).update(ended_at=record.created_at)
    response = operator_client.post(
        SESSIONS,
        {"action": "sign_out_sessions", "_selected_action": [str(record.pk)]},
        follow=True,
        **HOST,
    )
    assert "0 sessions signed out." in response.content.decode()


def test_operator_who_may_only_view_cannot_sign_out(client, customer):
    """Staff with the view permission only see the list but not the action."""
    staff = get_user_model().objects.create_user(
        email="viewer@example.com", password="viewer-password-1", is_staff=True
    )
    staff.user_permissions.add(Permission.objects.get(codename="view_browsersession"))
    client.force_login(staff)
    phone = signed_in_browser(customer, PHONE)
    record = record_of(phone)
    page = client.get(SESSIONS, **HOST)
    assert page.status_code == 200
    assert "sign_out_sessions" not in page.content.decode()
    client.post(
        SESSIONS, {"action": "sign_out_sessions", "_selected_action": [str(record.pk)]}, **HOST
    )
    assert is_signed_in(phone)


def test_decision_list_shows_finding_codes_and_action(operator_client, customer):
    RiskDecision.objects.create(
        user=customer,
        trigger=RiskDecision.Trigger.SIGN_IN,
        findings=[{"code": "new_country", "confidence": "high", "params": {}}],
        action=Action.STEP_UP,
    )
    text = operator_client.get(
        "/admin/sessions_ctx/riskdecision/?action__exact=step_up", **HOST
    ).content.decode()
    assert "new_country" in text
    assert "Require step-up" in text
    assert operator_client.get("/admin/sessions_ctx/riskdecision/add/", **HOST).status_code == 403


def test_policy_rules_are_edited_inline(operator_client):
    """The default policy (no client) takes rules in the same form; a second default is
    refused."""
    policy = RiskPolicy.objects.filter(application__isnull=True).first()
    assert policy is not None  # made by the data migration
    page = operator_client.get(f"/admin/sessions_ctx/riskpolicy/{policy.pk}/change/", **HOST)
    assert page.status_code == 200
    response = operator_client.post(
        "/admin/sessions_ctx/riskpolicy/add/",
        {
            "name": "Another default",
            "application": "",
            "rules-TOTAL_FORMS": "1",
            "rules-INITIAL_FORMS": "0",
            "rules-0-finding": "new_device",
            "rules-0-min_confidence": "low",
            "rules-0-action": "step_up",
        },
        **HOST,
    )
    assert response.status_code == 200
    assert "There is already a default policy" in response.content.decode()
    assert RiskPolicy.objects.count() == 1
    before = RiskRule.objects.filter(policy=policy).count()
    form = {
        "name": policy.name,
        "application": "",
        "rules-TOTAL_FORMS": str(before + 1),
        "rules-INITIAL_FORMS": str(before),
    }
    for index, rule in enumerate(RiskRule.objects.filter(policy=policy)):
        form.update(
            {
                f"rules-{index}-id": str(rule.pk),
                f"rules-{index}-policy": str(policy.pk),
                f"rules-{index}-finding": rule.finding,
                f"rules-{index}-min_confidence": rule.min_confidence,
                f"rules-{index}-action": rule.action,
            }
        )
    form.update(
        {
            f"rules-{before}-policy": str(policy.pk),
            f"rules-{before}-finding": "velocity",
            f"rules-{before}-min_confidence": "high",
            f"rules-{before}-action": "block",
        }
    )
    response = operator_client.post(
        f"/admin/sessions_ctx/riskpolicy/{policy.pk}/change/", form, **HOST
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert RiskRule.objects.filter(
        policy=policy, finding="velocity", min_confidence="high", action="block"
    ).exists()


def test_known_devices_are_listed_read_only(operator_client, customer):
    UserDevice.objects.create(
        user=customer, device_id="d" * 32, label="Firefox · Windows", last_seen_at=timezone.now()
    )
    text = operator_client.get("/admin/sessions_ctx/userdevice/", **HOST).content.decode()
    assert "Firefox · Windows" in text
    assert operator_client.get("/admin/sessions_ctx/userdevice/add/", **HOST).status_code == 403
