"""Deleting an account: the request after re-authentication, the grace period, cancelling
by signing in, the scheduled erasure, and what survives it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as DjangoClient
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from accounts.models import EmailSignIn, ErasureRequest, Passkey
from accounts.privacy.services import account_erase, erasure_due_run
from accounts.privacy.signals import account_erased
from consent.models import Consent, ConsentRecord
from consent.selectors import ledger_breaks
from profiling.models import Profile
from sessions_ctx.constants import SESSION_KEY_AUTH
from tests.factories import PASSWORD, UserFactory
from tests.mfa.conftest import next_totp_code
from tests.mfa.conftest import no_otp_backoff as no_otp_backoff  # the fixture

from .conftest import furnish

pytestmark = pytest.mark.django_db

DELETE = "/account/privacy/delete/"
SCHEDULED = "/account/privacy/delete/scheduled/"
User = get_user_model()


def pending(user) -> ErasureRequest | None:
    return ErasureRequest.objects.filter(
        user=user, cancelled_at__isnull=True, completed_at__isnull=True
    ).first()


def test_deletion_needs_the_password(client):
    """Without the password, or with a wrong one, nothing is recorded (400, the form with
    its error) and the user stays signed in."""
    user = UserFactory()
    client.force_login(user)
    page = client.get(DELETE)
    assert page.status_code == 200
    assert 'name="password"' in page.content.decode()

    assert client.post(DELETE, {}).status_code == 400
    response = client.post(DELETE, {"password": "not-the-password"})
    assert response.status_code == 400
    assert "That password or code is not right." in response.content.decode()
    assert not ErasureRequest.objects.exists()
    assert client.get(DELETE).status_code == 200  # still signed in


def test_request_signs_out_everywhere_and_emails_the_date(client, settings):
    """The right password records the request due after the grace period, revokes every
    token of every client, ends this and the user's other browser sessions (another user's
    stays), and an email gives the date and how to cancel."""
    settings.CIAM_PRIVACY_ERASURE_GRACE_DAYS = 3
    user = UserFactory()
    furnish(user)
    TOTPDevice.objects.filter(user=user).delete()  # the password alone is the proof here
    other_browser = DjangoClient()
    other_browser.force_login(user)
    bystander = DjangoClient()
    bystander.force_login(UserFactory())
    client.force_login(user)

    response = client.post(DELETE, {"password": PASSWORD})

    assert response.status_code == 303
    assert response["Location"] == SCHEDULED
    erasure = pending(user)
    assert erasure is not None
    assert erasure.due_at - erasure.requested_at == timedelta(days=3)
    assert not get_access_token_model().objects.filter(user=user).exists()
    assert not get_id_token_model().objects.filter(user=user).exists()
    assert not get_grant_model().objects.filter(user=user).exists()
    assert not get_refresh_token_model().objects.filter(user=user, revoked__isnull=True).exists()
    assert Consent.objects.filter(user=user).exists()  # kept until the erasure
    assert client.get(DELETE).status_code == 302  # signed out
    assert other_browser.get("/account/privacy/").status_code == 302
    assert bystander.get("/account/privacy/").status_code == 200
    [email] = mail.outbox
    assert email.to == [user.email]
    assert "deleted on" in email.body
    assert "/accounts/login/" in email.body
    page = client.get(SCHEDULED)
    assert page.status_code == 200
    assert "Your account will be deleted on" in page.content.decode()


def test_code_from_the_authenticator_app_also_confirms(client, no_otp_backoff):
    """A user with an authenticator app may confirm with a current code."""
    user = UserFactory()
    device = TOTPDevice.objects.create(user=user, name="App", confirmed=True)
    client.force_login(user)
    client.post("/account/mfa/verify/", {"code": next_totp_code(device)})
    response = client.post(DELETE, {"code": next_totp_code(device)})
    assert response.status_code == 303
    assert pending(user) is not None


def test_passwordless_account_confirms_with_a_recent_sign_in(client):
    """An account without password or authenticator app confirms with a sign-in at most
    five minutes old; with an older one the page asks to sign in again (403 on POST) and
    nothing is recorded."""
    user = UserFactory(password=None)
    client.force_login(user)
    session = client.session
    session[SESSION_KEY_AUTH] = {**session[SESSION_KEY_AUTH], "auth_time": int(time.time()) - 301}
    session.save()

    page = client.get(DELETE)
    assert page.status_code == 200
    assert "/accounts/login/?next=%2Faccount%2Fprivacy%2Fdelete%2F" in page.content.decode()
    assert client.post(DELETE).status_code == 403
    assert pending(user) is None

    client.force_login(user)  # signing in again
    assert client.post(DELETE).status_code == 303
    assert pending(user) is not None


def test_double_submit_records_one_request(client):
    """A second POST (the browser is signed out by then) goes to the sign-in page; the
    service called twice keeps one pending request."""
    user = UserFactory()
    client.force_login(user)
    assert client.post(DELETE, {"password": PASSWORD}).status_code == 303
    again = client.post(DELETE, {"password": PASSWORD})
    assert again.status_code == 302
    assert again["Location"].startswith("/accounts/login/")
    client.force_login(user)  # cancels the first one
    client.post(DELETE, {"password": PASSWORD})
    assert ErasureRequest.objects.filter(user=user, cancelled_at__isnull=True).count() == 1


def test_other_methods_are_refused_without_a_500(client):
    """PUT and DELETE get 405; the scheduled page refuses POST."""
    client.force_login(UserFactory())
    assert client.put(DELETE).status_code == 405
    assert client.delete(DELETE).status_code == 405
    assert client.post(SCHEDULED).status_code == 405


def test_signing_in_during_the_grace_period_cancels(client):
    """Signing in again (through the sign-in form) cancels the pending request and says so."""
    user = UserFactory()
    client.force_login(user)
    client.post(DELETE, {"password": PASSWORD})
    assert pending(user) is not None

    response = client.post(
        "/accounts/login/", {"login": user.email, "password": PASSWORD}, follow=True
    )

    assert pending(user) is None
    erasure = ErasureRequest.objects.get(user=user)
    assert erasure.cancelled_at is not None
    assert "Your account will not be deleted" in response.content.decode()


def test_command_erases_only_due_requests(capsys):
    """erase_due_accounts erases the accounts whose request is due; a request not yet due,
    a cancelled one and the accounts without one are left alone."""
    now = timezone.now()
    due, not_yet, cancelled, bystander = (UserFactory() for _ in range(4))
    ErasureRequest.objects.create(user=due, requested_at=now, due_at=now - timedelta(seconds=1))
    ErasureRequest.objects.create(user=not_yet, requested_at=now, due_at=now + timedelta(days=1))
    ErasureRequest.objects.create(
        user=cancelled, requested_at=now, due_at=now - timedelta(days=1), cancelled_at=now
    )

    call_command("erase_due_accounts")

    assert "Erased 1 account(s)." in capsys.readouterr().out
    assert not User.objects.filter(pk=due.pk).exists()
    assert User.objects.filter(pk__in=[not_yet.pk, cancelled.pk, bystander.pk]).count() == 3
    done = ErasureRequest.objects.get(completed_at__isnull=False)
    assert done.user is None
    assert done.erased_by == "schedule"
    assert done.subject
    call_command("erase_due_accounts")  # nothing more to do
    assert User.objects.count() == 3


def test_command_reports_a_failure_and_erases_the_others(monkeypatch):
    """One account failing to erase makes the command fail after erasing the rest."""
    now = timezone.now()
    first, second = UserFactory(), UserFactory()
    for user in (first, second):
        ErasureRequest.objects.create(user=user, requested_at=now, due_at=now)
    from accounts.privacy import services

    real = services.account_erase

    def flaky(*, user, actor):
        if user.pk == first.pk:
            raise RuntimeError("database went away")
        return real(user=user, actor=actor)

    monkeypatch.setattr(services, "account_erase", flaky)
    with pytest.raises(CommandError):
        call_command("erase_due_accounts")
    assert User.objects.filter(pk=first.pk).exists()
    assert not User.objects.filter(pk=second.pk).exists()


def test_erasure_removes_personal_data_and_keeps_ledger_tombstones(
    django_capture_on_commit_callbacks,
):
    """After account_erase: no user row, profile, email addresses, social account,
    passkey, authenticator app, recovery codes, tokens, codes, consents, emailed sign-ins
    or sessions; the ledger records remain as tombstones (no user, IP or user agent) and
    verify; account_erased names the user id, the subject and the clients."""
    user = UserFactory()
    furnish(user)
    other = UserFactory()
    furnish(other)
    EmailSignIn.objects.create(
        email=user.email.upper(),
        code_hash="x",
        link_hash="y",
        browser_hash="z",
        match_number=12,
        expires_at=timezone.now(),
    )
    browser = DjangoClient()
    browser.force_login(user)
    user_id, email = user.pk, user.email
    received = []
    account_erased.connect(
        lambda **kwargs: received.append(kwargs),
        weak=False,
        dispatch_uid="tests.erasure_received",
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            erasure = account_erase(user=user, actor="operator #1")
    finally:
        # Only this test's receiver: the audit log's and Shared Signals' stay connected.
        account_erased.disconnect(dispatch_uid="tests.erasure_received")

    assert not User.objects.filter(pk=user_id).exists()
    for model in (Profile, EmailAddress, SocialAccount, Passkey, TOTPDevice, StaticDevice, Consent):
        assert not model.objects.filter(user_id=user_id).exists(), model
        assert model.objects.filter(user=other).exists(), model
    for model in (
        get_access_token_model(),
        get_refresh_token_model(),
        get_id_token_model(),
        get_grant_model(),
    ):
        assert not model.objects.filter(user_id=user_id).exists(), model
    assert not EmailSignIn.objects.filter(email__iexact=email).exists()
    assert browser.get("/account/privacy/").status_code == 302
    assert all(
        session.get_decoded().get("_auth_user_id") != str(user_id)
        for session in Session.objects.all()
    )
    [tombstone] = ConsentRecord.objects.filter(user__isnull=True)
    assert tombstone.erased
    assert tombstone.ip_address is None
    assert tombstone.user_agent == ""
    assert ConsentRecord.objects.filter(user=other).count() == 1
    assert ledger_breaks() == []
    call_command("verify_consent_ledger")
    assert erasure.completed_at is not None
    assert erasure.erased_by == "operator #1"
    [event] = received
    assert event["user_id"] == str(user_id)
    assert event["subject"] == erasure.subject
    assert len(event["clients"]) == 1
    assert set(event["subjects"]) == set(event["clients"])


def test_erased_user_cannot_sign_in(client):
    """The sign-in form refuses the erased address and password."""
    user = UserFactory()
    account_erase(user=user, actor="schedule")
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_due_run_skips_requests_whose_user_is_gone():
    """A request left without its user (deleted another way) is not retried forever."""
    now = timezone.now()
    ErasureRequest.objects.create(user=None, requested_at=now, due_at=now)
    assert erasure_due_run() == (0, 0)
