"""Every customer change and every operator action in the admin lands in the audit log,
with who, what, when and from where (audit/receivers.py, audit/middleware.py)."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.test import Client, RequestFactory

from accounts.privacy.services import account_erase
from audit.models import ActorKind, AuditEntry
from consent.services.grants import consent_grant
from tests.factories import PASSWORD, UserFactory, make_client

from .conftest import IP, USER_AGENT

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-horse-battery-77"
CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")


def only(action: str, **filters) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(action=action, **filters))
    assert len(entries) == 1, [e.action for e in AuditEntry.objects.all()]
    return entries[0]


def assert_from_the_browser(entry: AuditEntry) -> None:
    assert entry.ip == IP
    assert entry.user_agent == USER_AGENT


def browser_of(user) -> Client:
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_password_change_is_recorded_from_the_browser(customer):
    """allauth's password change page: an entry by the customer about themself, with the
    browser's address and user agent, and no password in it."""
    response = browser_of(customer).post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    entry = only("password.changed")
    assert (entry.actor, entry.subject, entry.actor_kind) == (
        customer,
        customer,
        ActorKind.CUSTOMER,
    )
    assert_from_the_browser(entry)
    assert NEW_PASSWORD not in str(entry.changes)
    assert PASSWORD not in str(entry.changes)


def test_email_added_and_removed_are_recorded(customer):
    """Adding an address (once its emailed code is typed) and removing one on allauth's
    email page each give an entry naming the address, from the browser."""
    EmailAddress.objects.filter(user=customer).update(primary=True, verified=True)
    client = browser_of(customer)
    response = client.post("/accounts/email/", {"email": "new@example.com", "action_add": ""})
    assert response.status_code == 302, response.content.decode()[-1500:]
    code = CODE.search(mail.outbox[-1].body).group(1)
    assert client.post("/accounts/confirm-email/", {"code": code}).status_code == 302
    added = only("email.added")
    assert added.changes == {"email": "new@example.com"}
    assert added.subject == customer
    assert_from_the_browser(added)
    assert code not in str(list(AuditEntry.objects.values_list("changes", flat=True)))

    EmailAddress.objects.create(user=customer, email="spare@example.com", verified=True)
    response = client.post("/accounts/email/", {"email": "spare@example.com", "action_remove": ""})
    assert response.status_code == 302, response.content.decode()[-1500:]
    removed = only("email.removed", changes__email="spare@example.com")
    assert removed.subject == customer
    assert_from_the_browser(removed)


@pytest.mark.django_db(transaction=True)
def test_profile_change_is_recorded_from_the_browser(customer):
    """A change on the profile page gives a profile.updated entry (sent once committed, still
    within the request) with the fields changed and where the value came from."""
    response = browser_of(customer).post(
        "/account/profile/", {"given_name": "Beatriz", "family_name": "Silva"}
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    entry = only("profile.updated", actor=customer)
    assert entry.changes["fields"] == {"given_name": "Beatriz"}
    assert entry.changes["source"] == "account"
    assert (entry.actor, entry.subject) == (customer, customer)
    assert_from_the_browser(entry)


def test_profile_change_from_a_back_end_is_the_system(customer, django_capture_on_commit_callbacks):
    """A change through the profile API (a client's back end) has no person as actor."""
    from profiling.services.values import profile_update

    with django_capture_on_commit_callbacks(execute=True):
        profile_update(user=customer, changes={"given_name": "Bia"}, source="api")
    entry = only("profile.updated")
    assert (entry.actor, entry.actor_kind, entry.subject) == (None, ActorKind.SYSTEM, customer)


def test_admin_change_is_an_operator_entry(customer, operator_client, operator):
    """Deleting a customer's email address in the admin: an operator entry (admin.deletion)
    about that customer, with the object, the operator's address and browser."""
    address = EmailAddress.objects.create(user=customer, email="spare@example.com")
    response = operator_client.post(
        f"/admin/account/emailaddress/{address.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    entry = only("admin.deletion")
    assert (entry.actor, entry.actor_kind, entry.subject) == (
        operator,
        ActorKind.OPERATOR,
        customer,
    )
    assert entry.target_id == str(address.pk)
    assert "spare@example.com" in entry.target_repr
    assert (entry.ip, entry.user_agent) == ("198.51.100.4", "OperatorBrowser/2")


def test_every_admin_log_entry_is_copied(operator, customer):
    """A LogEntry written outside a page (an admin action's log_change) is copied too."""
    from django.contrib.admin.models import CHANGE
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.log_actions(
        user_id=operator.pk,
        queryset=[customer],
        action_flag=CHANGE,
        change_message="Changed given name.",
        single_object=True,
    )
    entry = only("admin.change")
    assert entry.subject == customer
    assert entry.changes == {"message": "Changed given name."}
    assert entry.target_content_type == ContentType.objects.get_for_model(customer)


def test_consent_for_a_client_and_its_removal_are_recorded(customer):
    registered = make_client("web", name="Partner Shop", redirect_uris=["https://p.test/cb"])
    from oauth2_provider.models import get_application_model

    application = get_application_model().objects.get(client_id=registered.client_id)
    consent_grant(user=customer, application=application, scopes=["openid", "email"], claims=[])
    granted = only("consent.client_granted")
    assert sorted(granted.changes["scopes"]) == ["email", "openid"]
    assert granted.target_repr == str(application)


def test_sign_out_is_recorded(customer):
    """A session that ended (sessions_ctx's session_ended) is recorded about its user, from
    the browser that signed out."""
    from sessions_ctx.signals import session_ended

    request = RequestFactory().post("/accounts/logout/", REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)
    session_ended.send(sender=None, request=request, user_id=str(customer.pk), sid="sid-1")
    entry = only("session.ended")
    assert (entry.actor, entry.subject) == (customer, customer)
    assert entry.changes == {"sid": "sid-1", "from_elsewhere": False}
    assert_from_the_browser(entry)


def test_signals_without_a_request_use_the_middlewares_request(customer):
    """A receiver whose signal carries no request reads the audit middleware's one."""
    from audit.context import current_request_reset, current_request_set
    from audit.services import audit_record

    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.44", HTTP_USER_AGENT="Ctx/1")
    token = current_request_set(request)
    try:
        entry = audit_record(action="x.y", actor=customer)
    finally:
        current_request_reset(token)
    assert (entry.ip, entry.user_agent) == ("192.0.2.44", "Ctx/1")


def test_erasure_leaves_entries_without_personal_data(
    customer, operator, django_capture_on_commit_callbacks
):
    """After account_erase the entries stay (what happened, when) but no longer name the
    customer, their address, browser or the values recorded."""
    EmailAddress.objects.filter(user=customer).update(primary=True, verified=True)
    client = browser_of(customer)
    EmailAddress.objects.create(user=customer, email="kept@example.com", verified=True)
    client.post("/accounts/email/", {"email": "kept@example.com", "action_remove": ""})
    client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    user_id, email = customer.pk, customer.email
    before = AuditEntry.objects.filter(subject=customer).count()
    assert before >= 2
    with django_capture_on_commit_callbacks(execute=True):
        account_erase(user=customer, actor=f"operator #{operator.pk}")
    entries = list(AuditEntry.objects.filter(subject_label=f"Erased account #{user_id}"))
    assert len(entries) >= before
    for entry in entries:
        text = " ".join(
            str(value)
            for value in (
                entry.actor_label,
                entry.subject_label,
                entry.target_repr,
                entry.changes,
                entry.ip,
                entry.user_agent,
            )
        )
        assert email not in text
        assert "kept@example.com" not in text
        assert IP not in text
        assert USER_AGENT not in text
        assert entry.subject_id is None
        assert entry.erased
    assert not AuditEntry.objects.filter(subject_id=user_id).exists()
    assert not AuditEntry.objects.filter(actor_id=user_id).exists()
    # The erasure itself is recorded, by account id only.
    assert AuditEntry.objects.filter(action="account.erased").exists()


def test_deleting_an_operator_keeps_their_entries(operator, customer):
    """A deleted user's entries stay, naming them by account id only."""
    from audit.services import audit_record

    entry = audit_record(action="client.secret_rotated", actor=operator, actor_kind="operator")
    operator_id = operator.pk
    operator.delete()
    entry.refresh_from_db()
    assert entry.actor_id is None
    assert entry.actor_label == f"Erased account #{operator_id}"
    assert UserFactory  # factories stay importable for other tests
