"""The operators' customer administration: the list finds customers by email, name, phone or
national document; the customer page shows every panel; each action changes what it should,
is recorded in the audit log, and only superusers erase or disable."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail

from audit.models import AuditEntry
from profiling.models import DocumentKind, FieldType, ProfileField
from profiling.schema import schema_forget
from sessions_ctx.models import BrowserSession
from tests.factories import UserFactory
from tests.sessions_ctx.test_account_sessions import signed_in_browser

from .customers_fixtures import CPF, HOST, PHONE_TYPED, USERS, rich_customer

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def document_field(db):
    field = ProfileField.objects.create(
        key="cpf",
        type=FieldType.DOCUMENT,
        document_kind=DocumentKind.BR_CPF,
        label_en="CPF",
        label_pt_br="CPF",
        order=500,
    )
    schema_forget()
    return field


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(
        email="root@example.com", password="operator-password-1"
    )


@pytest.fixture
def staff(db):
    """Staff with every model permission on users, but not a superuser."""
    from django.contrib.auth.models import Permission

    operator = UserFactory(email="staff@example.com", is_staff=True)
    operator.user_permissions.set(Permission.objects.filter(content_type__app_label="accounts"))
    return get_user_model().objects.get(pk=operator.pk)


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


def action_url(user, verb: str) -> str:
    return f"{USERS}{user.pk}/customer/{verb}/"


def listed(client, term: str) -> str:
    response = client.get(USERS, {"q": term}, **HOST)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    "term",
    [
        "ana.souza@example.com",
        "ANA.SOUZA@",
        "Souza",
        "ana souza",
        PHONE_TYPED,
        "+55 11 91234-5678",
        "11912345678",
        CPF,
        "12345678909",
    ],
)
def test_search_finds_the_customer_by_each_kind(superuser_client, document_field, term):
    """Email (any case, part), name (one or both words), the phone as typed in Brazil or in
    E.164, and the CPF formatted or digits only all find the customer, and nobody else."""
    rich_customer()
    UserFactory(email="bruno@example.com", given_name="Bruno", family_name="Lima")
    html = listed(superuser_client, term)
    assert "ana.souza@example.com" in html
    assert "bruno@example.com" not in html


def test_search_by_another_email_address(superuser_client):
    """A secondary email address of allauth finds its user."""
    user = UserFactory(email="main@example.com")
    EmailAddress.objects.create(user=user, email="old-address@example.org", primary=False)
    assert "main@example.com" in listed(superuser_client, "old-address@example.org")


@pytest.mark.parametrize(
    "term",
    ["%", "'; DROP TABLE--", "(((", "+", "0" * 500, "ção", "\u200b", "999.999.999-99", "a" * 1000],
)
def test_search_garbage_answers(superuser_client, document_field, term):
    """Whatever is typed, the list answers (never a 500) and finds nobody by accident."""
    rich_customer()
    html = listed(superuser_client, term)
    assert "ana.souza@example.com" not in html


def test_list_columns_and_filters(superuser_client, document_field):
    """The list shows the name and answers every filter."""
    rich_customer()
    html = listed(superuser_client, "")
    assert "Ana Souza" in html
    for query in (
        "is_active__exact=1",
        "is_staff__exact=0",
        "verified_email=yes",
        "verified_email=no",
        "passkey=yes",
        "two_step=yes",
        "two_step=no",
        "date_joined__gte=2000-01-01",
    ):
        response = superuser_client.get(f"{USERS}?{query}", **HOST)
        assert response.status_code == 200, query
    assert (
        "ana.souza@example.com"
        in superuser_client.get(f"{USERS}?two_step=yes&passkey=yes", **HOST).content.decode()
    )
    assert (
        "ana.souza@example.com"
        not in superuser_client.get(f"{USERS}?two_step=no", **HOST).content.decode()
    )


def test_customer_page_shows_every_panel(superuser_client, document_field):
    """Profile with provenance, ways to sign in, sessions and devices, consent ledger, risk
    decisions and audit entries, connected apps: each panel lists the customer's data."""
    user = rich_customer()
    response = superuser_client.get(f"{USERS}{user.pk}/change/", **HOST)
    assert response.status_code == 200
    html = response.content.decode()
    for panel in ("profile", "sign-in", "sessions", "consents", "security", "apps"):
        assert f'id="panel-{panel}"' in html, panel
    assert "+5511912345678" in html
    assert "12345678909" in html
    assert "Account area" in html  # provenance
    assert "Work laptop" in html  # passkey
    assert 'data-item="totp"' in html
    assert "On since" in html
    assert "google" in html
    assert "203.0.113.9" in html  # session
    assert "Partner Shop" in html  # connected app and consent ledger
    assert "new_device" in html
    assert "São Paulo, BR" in html
    assert 'data-action="sign-out"' in html
    assert 'data-action="erase"' in html


def test_customer_page_in_portuguese(superuser_client, document_field):
    """The page follows the operator's language, dates included."""
    user = rich_customer()
    superuser_client.cookies["ciam_language"] = "pt-br"
    html = superuser_client.get(f"{USERS}{user.pk}/change/", **HOST).content.decode()
    assert "Registro de consentimentos" in html or "Consent ledger" in html
    assert " de 20" in html  # e.g. "1 de dezembro de 2026 às 19:40"


def entries(user, action: str) -> int:
    return AuditEntry.objects.filter(subject_id=user.pk, action=action).count()


def test_verify_email(superuser_client):
    """Verify email marks the primary address verified, once, and is audited."""
    user = UserFactory(email_verified=False)
    response = superuser_client.post(action_url(user, "verify-email"), **HOST)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user, primary=True).verified
    assert entries(user, "customer.email_verified") == 1


def test_send_password_reset(superuser_client):
    """A password reset link goes to the customer's primary address."""
    user = UserFactory()
    response = superuser_client.post(action_url(user, "password-reset"), **HOST)
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
    assert entries(user, "customer.password_reset_sent") == 1


def test_resend_verification(superuser_client, superuser):
    """An unverified primary address gets allauth's verification email; the operator's own
    session keeps no verification of the customer."""
    user = UserFactory(email_verified=False)
    response = superuser_client.post(action_url(user, "resend-verification"), **HOST)
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert "account_email_verification_code" not in superuser_client.session
    assert entries(user, "customer.verification_resent") == 1


def test_sign_out_everywhere_asks_first(superuser_client):
    """Sign out everywhere shows a confirmation; confirming ends every session."""
    user = UserFactory()
    signed_in_browser(user)
    signed_in_browser(user)
    page = superuser_client.post(action_url(user, "sign-out"), **HOST)
    assert page.status_code == 200
    assert 'name="confirm"' in page.content.decode()
    assert BrowserSession.objects.filter(user=user, ended_at__isnull=True).count() == 2
    response = superuser_client.post(action_url(user, "sign-out"), {"confirm": "yes"}, **HOST)
    assert response.status_code == 302
    assert not BrowserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert entries(user, "customer.signed_out_everywhere") == 1


def test_disable_then_enable(superuser_client):
    """Disable (confirmed) stops sign-in and ends the sessions; enable lets them back."""
    user = UserFactory()
    browser = signed_in_browser(user)
    assert superuser_client.post(action_url(user, "disable"), **HOST).status_code == 200
    user.refresh_from_db()
    assert user.is_active
    superuser_client.post(action_url(user, "disable"), {"confirm": "yes"}, **HOST)
    user.refresh_from_db()
    assert not user.is_active
    assert not BrowserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert browser.get("/account/privacy/").status_code == 302
    assert entries(user, "customer.disabled") == 1
    page = superuser_client.get(f"{USERS}{user.pk}/change/", **HOST).content.decode()
    assert 'data-action="enable"' in page
    assert 'data-action="disable"' not in page
    superuser_client.post(action_url(user, "enable"), **HOST)
    user.refresh_from_db()
    assert user.is_active
    assert entries(user, "customer.enabled") == 1


def test_erase_reuses_the_privacy_service(superuser_client, superuser, document_field):
    """Erase shows the privacy confirmation page, then erases through account_erase (the
    erasure request names the operator) and lands on the list."""
    from accounts.privacy.models import ErasureRequest

    user = rich_customer()
    page = superuser_client.post(action_url(user, "erase"), **HOST)
    assert page.status_code == 200
    assert "cannot be undone" in page.content.decode()
    response = superuser_client.post(action_url(user, "erase"), {"confirm": "yes"}, **HOST)
    assert response.status_code == 302
    assert response["Location"] == USERS
    assert not User.objects.filter(pk=user.pk).exists()
    assert ErasureRequest.objects.get().erased_by == f"operator #{superuser.pk}"
    assert AuditEntry.objects.filter(action="customer.erased", actor=superuser).count() == 1


def test_actions_are_post_only(superuser_client):
    """A GET to an action URL does nothing."""
    user = UserFactory(email_verified=False)
    assert superuser_client.get(action_url(user, "verify-email"), **HOST).status_code == 405
    assert not EmailAddress.objects.get(user=user).verified
    assert superuser_client.post(action_url(user, "nonsense"), **HOST).status_code == 404


def test_staff_cannot_erase_or_disable_or_grant_permissions(client, staff):
    """Staff who are not superusers see no erase, disable or enable; posting them is
    forbidden; the permission fields are read-only for them; other actions still work."""
    user = UserFactory(email_verified=False)
    client.force_login(staff)
    page = client.get(f"{USERS}{user.pk}/change/", **HOST).content.decode()
    assert 'data-action="verify-email"' in page
    for verb in ("erase", "disable"):
        assert f'data-action="{verb}"' not in page
        response = client.post(action_url(user, verb), {"confirm": "yes"}, **HOST)
        assert response.status_code == 403
    for field in ("is_superuser", "is_staff", "groups", "user_permissions", "is_active"):
        assert f'name="{field}"' not in page
    bulk = client.post(
        USERS,
        {"action": "erase_accounts", "_selected_action": [user.pk], "confirm": "yes"},
        **HOST,
    )
    assert bulk.status_code in (200, 302, 403)
    assert User.objects.filter(pk=user.pk, is_active=True).exists()
    assert client.post(action_url(user, "verify-email"), **HOST).status_code == 302
    assert EmailAddress.objects.get(user=user).verified


def test_bulk_actions(superuser_client):
    """From the list: verify several addresses at once; sign out asks to confirm first."""
    first, second = UserFactory(email_verified=False), UserFactory(email_verified=False)
    ids = [first.pk, second.pk]
    superuser_client.post(
        USERS, {"action": "verify_email_selected", "_selected_action": ids}, **HOST
    )
    assert EmailAddress.objects.filter(user__in=ids, verified=True).count() == 2
    signed_in_browser(first)
    page = superuser_client.post(
        USERS, {"action": "sign_out_everywhere", "_selected_action": ids}, **HOST
    )
    assert page.status_code == 200
    assert 'name="confirm"' in page.content.decode()
    superuser_client.post(
        USERS,
        {"action": "sign_out_everywhere", "_selected_action": ids, "confirm": "yes"},
        **HOST,
    )
    assert not BrowserSession.objects.filter(user=first, ended_at__isnull=True).exists()


def test_delegated_operator_sees_a_read_only_page_of_their_client_only(operator_client, delegation):
    """A delegated operator opens their customer's page without any action button, cannot
    post one, and sees nothing of the customer's other clients."""
    from tests.privacy.conftest import tokens_for

    customer = delegation.own_customers[0]
    tokens_for(customer, delegation.other)
    tokens_for(customer, delegation.own)
    page = operator_client.get(f"{USERS}{customer.pk}/change/", **HOST)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="panel-apps"' in html
    assert "data-action=" not in html
    assert f'data-client="{delegation.own.client_id}"' in html
    assert delegation.other.client_id not in html
    for verb in ("verify-email", "sign-out", "erase"):
        response = operator_client.post(action_url(customer, verb), {"confirm": "yes"}, **HOST)
        assert response.status_code == 403
    assert User.objects.filter(pk=customer.pk).exists()
