"""Operators' accounts in the customer administration: staff who are not superusers can
read an operator's (staff or superuser) account but not change its email or password, nor
run any action on it, on its page or from the list; superusers still can."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail

from audit.models import AuditEntry
from console.services import customers as services
from console.services.customers import CustomerActionRefused
from sessions_ctx.models import BrowserSession
from tests.factories import PASSWORD, UserFactory
from tests.sessions_ctx.test_account_sessions import signed_in_browser

from .customers_fixtures import HOST, USERS

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(email="root@example.com", password=PASSWORD)


@pytest.fixture
def staff(db):
    """Staff with every model permission on users, but not a superuser."""
    operator = UserFactory(email="staff@example.com", is_staff=True)
    operator.user_permissions.set(Permission.objects.filter(content_type__app_label="accounts"))
    return User.objects.get(pk=operator.pk)


@pytest.fixture
def other_staff(db):
    return User.objects.get(pk=UserFactory(email="colleague@example.com", is_staff=True).pk)


def action_url(user, verb: str) -> str:
    return f"{USERS}{user.pk}/customer/{verb}/"


@pytest.mark.parametrize("target_name", ["superuser", "other_staff"])
def test_staff_cannot_take_over_an_operator_account(client, staff, request, target_name):
    """On a superuser's or another staff member's page, staff see no action button and no
    editable email; the password page, a posted email change and every action are refused,
    and no password reset email leaves."""
    target = request.getfixturevalue(target_name)
    client.force_login(staff)
    page = client.get(f"{USERS}{target.pk}/change/", **HOST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-action=" not in html
    assert 'name="email"' not in html
    assert client.get(f"{USERS}{target.pk}/password/", **HOST).status_code == 403
    posted = client.post(
        f"{USERS}{target.pk}/password/",
        {"password1": "Taken-over-password-9", "password2": "Taken-over-password-9"},
        **HOST,
    )
    assert posted.status_code == 403
    client.post(f"{USERS}{target.pk}/change/", {"email": "attacker@example.com"}, **HOST)
    for verb in ("password-reset", "sign-out", "verify-email", "resend-verification"):
        response = client.post(action_url(target, verb), {"confirm": "yes"}, **HOST)
        assert response.status_code == 403, verb
    target.refresh_from_db()
    assert target.email != "attacker@example.com"
    assert target.check_password(PASSWORD)
    assert mail.outbox == []
    assert not AuditEntry.objects.filter(subject=target, action__startswith="customer.").exists()


def test_bulk_actions_skip_operator_accounts_for_staff(client, staff, superuser):
    """From the list, staff sending password resets or signing out a selection reach the
    customers in it and skip the superuser, with a warning naming them."""
    customer = UserFactory(email="customer@example.com")
    signed_in_browser(customer)
    mail.outbox.clear()  # the new sign-in notices
    client.force_login(staff)
    ids = [customer.pk, superuser.pk]
    response = client.post(
        USERS, {"action": "password_reset_selected", "_selected_action": ids}, follow=True, **HOST
    )
    assert response.status_code == 200
    assert [message.to for message in mail.outbox] == [["customer@example.com"]]
    assert "root@example.com" in response.content.decode()
    confirm = client.post(
        USERS, {"action": "sign_out_everywhere", "_selected_action": ids}, **HOST
    ).content.decode()
    assert "customer@example.com" in confirm
    client.post(
        USERS,
        {"action": "sign_out_everywhere", "_selected_action": ids, "confirm": "yes"},
        **HOST,
    )
    assert not BrowserSession.objects.filter(user=customer, ended_at__isnull=True).exists()
    assert not AuditEntry.objects.filter(
        subject=superuser, action="customer.signed_out_everywhere"
    ).exists()


def test_only_the_operator_account_is_refused_to_staff(client, staff):
    """A customer's page keeps its editable email and actions for staff."""
    customer = UserFactory(email="customer@example.com")
    client.force_login(staff)
    html = client.get(f"{USERS}{customer.pk}/change/", **HOST).content.decode()
    assert 'name="email"' in html
    assert 'data-action="password-reset"' in html
    assert client.get(f"{USERS}{customer.pk}/password/", **HOST).status_code == 200


def test_superuser_still_acts_on_operator_accounts(client, superuser, other_staff):
    """A superuser opens a staff member's password page and sends them a reset link."""
    client.force_login(superuser)
    assert client.get(f"{USERS}{other_staff.pk}/password/", **HOST).status_code == 200
    response = client.post(action_url(other_staff, "password-reset"), **HOST)
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["colleague@example.com"]]


def test_services_refuse_operator_accounts_to_staff(staff, superuser, rf):
    """The services themselves refuse a staff operator acting on a superuser's account."""
    request = rf.post("/")
    request.user = staff
    with pytest.raises(CustomerActionRefused):
        services.customer_password_reset_send(user=superuser, operator=staff, request=request)
    with pytest.raises(CustomerActionRefused):
        services.customer_sign_out_everywhere(user=superuser, operator=staff, request=request)
    assert mail.outbox == []
