"""Operators erase accounts from the admin; relying parties' tokens stop working."""

from __future__ import annotations

import secrets

import pytest
from authlib.integrations.requests_client import OAuth2Session
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model

from accounts.models import ErasureRequest
from accounts.privacy.services import account_erase
from consent.models import ConsentRecord
from tests.conftest import query_of
from tests.factories import PASSWORD, UserFactory

from .conftest import furnish

User = get_user_model()
USERS = "/admin/accounts/user/"


@pytest.fixture
def operator(db):
    return User.objects.create_superuser(email="operator@example.com", password="op-pass-1234")


def test_admin_action_asks_then_erases_through_the_service(client, operator):
    """The action shows a confirmation page listing the accounts; confirming erases them
    at once, records the operator on the erasure request and in the admin log (without the
    address), and keeps the consent ledger's tombstones."""
    user = UserFactory()
    furnish(user)
    client.force_login(operator)

    page = client.post(USERS, {"action": "erase_accounts", "_selected_action": [user.pk]})
    assert page.status_code == 200
    assert user.email in page.content.decode()
    assert User.objects.filter(pk=user.pk).exists()

    response = client.post(
        USERS, {"action": "erase_accounts", "_selected_action": [user.pk], "confirm": "yes"}
    )

    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    erasure = ErasureRequest.objects.get()
    assert erasure.erased_by == f"operator #{operator.pk}"
    assert erasure.requested_by == ErasureRequest.Actor.OPERATOR
    entry = LogEntry.objects.get(action_flag=DELETION, object_id=str(user.pk))
    assert entry.user_id == operator.pk
    assert user.email not in entry.object_repr
    assert ConsentRecord.objects.filter(user__isnull=True, erased=True).count() == 1
    assert client.get("/admin/accounts/erasurerequest/").status_code == 200


def test_operator_cannot_erase_themselves(client, operator):
    """Selecting one's own account erases nothing and says why."""
    client.force_login(operator)
    response = client.post(
        USERS,
        {"action": "erase_accounts", "_selected_action": [operator.pk], "confirm": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert User.objects.filter(pk=operator.pk).exists()
    assert "You cannot erase your own account from here." in response.content.decode()


def test_customers_cannot_use_the_admin_action(client, db):
    """A signed-in customer posting the action gets the admin sign-in page, nothing erased."""
    user, victim = UserFactory(), UserFactory()
    client.force_login(user)
    response = client.post(
        USERS, {"action": "erase_accounts", "_selected_action": [victim.pk], "confirm": "yes"}
    )
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert User.objects.filter(pk=victim.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_tokens_stop_working_after_erasure(issuer, browser, web_client):
    """A relying party (Authlib) holding an access and a refresh token: after erasure,
    UserInfo answers 401 and the refresh token gets invalid_grant; signing in with the old
    password fails."""
    user = UserFactory()
    session = OAuth2Session(
        web_client.client_id,
        web_client.client_secret,
        scope="openid email",
        redirect_uri=web_client.redirect_uri,
        code_challenge_method="S256",
    )
    verifier = secrets.token_urlsafe(48)
    url, _state = session.create_authorization_url(
        issuer + "/authorize", code_verifier=verifier, nonce=secrets.token_urlsafe(8)
    )
    location = browser.authorize(query_of(url), email=user.email, password=PASSWORD)
    token = session.fetch_token(
        issuer + "/token",
        code=query_of(location)["code"],
        code_verifier=verifier,
    )
    assert session.get(issuer + "/userinfo").status_code == 200

    account_erase(user=user, actor="schedule")

    assert session.get(issuer + "/userinfo").status_code == 401
    refreshed = session.post(
        issuer + "/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(web_client.client_id, web_client.client_secret),
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    page = browser.follow_local(browser.get("/accounts/login/"))
    answer = browser.login_form(page, user.email, PASSWORD)
    assert "/accounts/login/" in answer.url
