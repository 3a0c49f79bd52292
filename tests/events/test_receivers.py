"""Every meaningful change writes its event: through the hosted sign-in form, the consent
ledger, the profile, the operators' console and the session context's new signals."""

from __future__ import annotations

import pytest
from django.contrib.auth import login
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.test import RequestFactory, override_settings

from events.models import OutboxEvent
from events.selectors import event_envelope
from sessions_ctx.models import Confidence
from sessions_ctx.risk.findings import Finding
from tests.factories import PASSWORD

from .conftest import IP, USER_AGENT, events_of, grant, withdraw

pytestmark = pytest.mark.django_db

BACKEND = "django.contrib.auth.backends.ModelBackend"


def sign_in(browser, user) -> None:
    response = browser.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[-500:]


def only(user, kind: str) -> OutboxEvent:
    events = events_of(user, kind)
    assert len(events) == 1, [e.type for e in events_of(user)]
    return events[0]


def always_suspicious(*, context, history, trigger) -> list[Finding]:
    """A risk assessor for tests: every sign-in looks like a password-guessing attack."""
    return [Finding(code="failed_attempts", confidence=Confidence.HIGH, params={"count": "9"})]


def test_password_sign_in_writes_user_signed_in_with_method_amr_acr_and_risk(browser, customer):
    """The hosted form: one user.signed_in, method password, amr ["pwd"], acr "1", the
    risk decision (allow, level none) and the OP session id; no challenge."""
    sign_in(browser, customer)
    event = only(customer, "user.signed_in")
    assert event.data["method"] == "password"
    assert event.data["amr"] == ["pwd"]
    assert event.data["acr"] == "1"
    assert event.data["risk"] == {"level": "none", "action": "allow"}
    assert event.data["sid"]
    assert not events_of(customer, "risk.challenged")
    assert IP not in str(event.data)
    assert USER_AGENT not in str(event.data)


@override_settings(CIAM_SESSIONS_RISK_ASSESSORS=["tests.events.test_receivers.always_suspicious"])
def test_a_risky_sign_in_writes_the_challenge(browser, customer):
    """A step-up asked for at sign-in: user.signed_in carries risk high/step_up and a
    risk.challenged event names the findings (codes and confidence only)."""
    sign_in(browser, customer)
    signed_in = only(customer, "user.signed_in")
    assert signed_in.data["risk"] == {"level": "high", "action": "step_up"}
    challenge = only(customer, "risk.challenged")
    assert challenge.data["action"] == "step_up"
    assert challenge.data["trigger"] == "sign_in"
    assert challenge.data["findings"] == [{"code": "failed_attempts", "confidence": "high"}]
    assert challenge.pk < signed_in.pk  # decided, then the sign-in completed


def test_sign_out_and_revocation_are_told_apart(browser, customer):
    """Signing out here: user.signed_out; a session ended from elsewhere: session.revoked."""
    from sessions_ctx.models import EndReason
    from sessions_ctx.services.sessions import sessions_revoke_all

    sign_in(browser, customer)
    sid = only(customer, "user.signed_in").data["sid"]
    assert browser.post("/accounts/logout/").status_code in (200, 302)
    assert only(customer, "user.signed_out").data == {"sid": sid}

    sign_in(browser, customer)
    sessions_revoke_all(user=customer, reason=EndReason.REVOKED_BY_OPERATOR)
    assert only(customer, "session.revoked").data["sid"]


def _logged_in_request(user):
    """A request that went through login() the way a passkey or emailed-code sign-in does."""
    request = RequestFactory().post("/", REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)
    request.session = SessionStore()
    request.user = user
    login(request, user, backend=BACKEND)
    return request


def _through_middleware(view):
    """Run ``view`` as a request through SignInEventMiddleware (as MIDDLEWARE does)."""
    from events.middleware import SignInEventMiddleware

    request = RequestFactory().post("/", REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)
    request.session = SessionStore()
    return request, SignInEventMiddleware(view)(request)


def test_a_method_that_states_its_own_amr_writes_one_final_sign_in_event(customer):
    """Passkeys and emailed codes call session_record_authentication with their methods
    right after login(): nothing is written during the request, and at its end exactly one
    user.signed_in is written (event_written sent once) saying passkey, ["hwk", "user"],
    acr phrh; it is never amended afterwards."""
    from django.http import HttpResponse

    from events.receivers import REQUEST_SIGN_IN_EVENT
    from events.signals import event_written
    from sessions_ctx.services.authentication import session_record_authentication

    written: list[dict] = []

    def record(sender, event, **kwargs):
        if event.type == "user.signed_in":
            written.append(dict(event.data))

    def view(request):
        request.user = customer
        login(request, customer, backend=BACKEND)
        session_record_authentication(
            request=request, user_id=str(customer.pk), methods=["hwk", "user"]
        )
        assert not events_of(customer, "user.signed_in")  # not yet: the request goes on
        return HttpResponse("ok")

    event_written.connect(record, dispatch_uid="test.sign_in_written")
    try:
        request, response = _through_middleware(view)
    finally:
        event_written.disconnect(dispatch_uid="test.sign_in_written")
    assert response.status_code == 200
    event = only(customer, "user.signed_in")
    assert event.data["method"] == "passkey"
    assert event.data["amr"] == ["hwk", "user"]
    assert event.data["acr"] == "phrh"
    assert [data["method"] for data in written] == ["passkey"]  # one version, the final one
    assert getattr(request, REQUEST_SIGN_IN_EVENT)[0] == event.pk


def test_a_sign_in_without_the_middleware_is_written_at_once(customer):
    """No request middleware around it (a script, a back-channel path): user.signed_in is
    written when the sign-in completes."""
    _logged_in_request(customer)
    assert only(customer, "user.signed_in").data["method"] == "password"


def test_the_hosted_sign_in_form_goes_through_the_middleware(browser, customer):
    """The real stack: MIDDLEWARE holds SignInEventMiddleware right after
    SessionContextMiddleware, and a form sign-in writes one user.signed_in."""
    from django.conf import settings

    position = settings.MIDDLEWARE.index("sessions_ctx.middleware.SessionContextMiddleware")
    assert settings.MIDDLEWARE[position + 1] == "events.middleware.SignInEventMiddleware"
    sign_in(browser, customer)
    assert only(customer, "user.signed_in").data["amr"] == ["pwd"]


def test_a_step_up_writes_assurance_changed(customer):
    """A second factor added to a one-factor session: assurance.changed from "1" to "2"."""
    from sessions_ctx.services.authentication import session_add_factor

    request = _logged_in_request(customer)
    session_add_factor(request=request, methods=["otp"])
    event = only(customer, "assurance.changed")
    assert (event.data["acr_before"], event.data["acr_after"]) == ("1", "2")
    assert "otp" in event.data["amr"]


def test_consent_granted_and_withdrawn(customer, marketing):
    """The consent ledger: consent.granted then consent.withdrawn, purpose key, version,
    channel."""
    grant(customer, marketing)
    withdraw(customer, marketing)
    granted = only(customer, "consent.granted")
    withdrawn = only(customer, "consent.withdrawn")
    assert granted.data["purpose"] == "marketing"
    assert granted.data["version"] == 1
    assert granted.data["channel"] == "portal"
    assert withdrawn.data["purpose"] == "marketing"
    assert granted.pk < withdrawn.pk


def test_profile_answer_to_a_question_is_collected_under_its_purpose(
    customer, marketing, style_field, django_capture_on_commit_callbacks
):
    """A profiling question answered: user.updated (the value tagged with the field's
    purpose) and profile.field_collected that only a receiver of that purpose sees, while
    the customer grants it. Both are written inside profile_update's transaction: they
    exist before any on-commit callback ran (a crash after the commit loses nothing)."""
    from profiling.models import ValueSource
    from profiling.services.values import profile_update

    grant(customer, marketing)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        profile_update(user=customer, changes={"home_style": "rustic"}, source=ValueSource.QUESTION)
        updated = [e for e in events_of(customer, "user.updated") if e.data["source"] == "question"]
        assert len(updated) == 1
        collected = only(customer, "profile.field_collected")
    assert callbacks  # profile_changed (the audit entry) still waits for the commit
    updated_event = updated[0]
    assert updated_event.data["changed"] == ["home_style"]
    assert event_envelope(collected, purposes=[]) is None
    seen = event_envelope(collected, purposes=["marketing"], scopes=["profile"])
    assert seen["data"] == {"field": "home_style", "source": "question", "value": "rustic"}
    withdraw(customer, marketing)
    assert event_envelope(collected, purposes=["marketing"]) is None
    assert event_envelope(updated_event, purposes=["marketing"])["data"]["fields"] == {}


def test_a_rolled_back_profile_change_writes_no_event(customer):
    """profile_update rolled back with its caller: neither the change nor its event stay."""
    from django.db import transaction

    from profiling.models import ValueSource
    from profiling.services.values import profile_update

    before = OutboxEvent.objects.count()
    inside: list[int] = []

    def change_then_fail() -> None:
        with transaction.atomic():
            profile_update(user=customer, changes={"given_name": "Bia"}, source=ValueSource.ACCOUNT)
            inside.append(OutboxEvent.objects.count())
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError, match="caller failed"):
        change_then_fail()
    assert inside == [before + 1]
    assert OutboxEvent.objects.count() == before


def test_the_audit_entry_of_a_profile_change_writes_no_second_event(
    customer, django_capture_on_commit_callbacks
):
    """The profile.updated audit entry (written on commit) no longer maps to an event: one
    user.updated per change."""
    from profiling.models import ValueSource
    from profiling.services.values import profile_update

    with django_capture_on_commit_callbacks(execute=True):
        profile_update(user=customer, changes={"given_name": "Bia"}, source=ValueSource.ACCOUNT)
    changes = [e for e in events_of(customer, "user.updated") if e.data["source"] == "account"]
    assert len(changes) == 1
    assert changes[0].data["changed"] == ["given_name"]


def test_a_standard_claim_without_a_schema_tag_keeps_its_claim_scope(customer):
    """A changed key the profile schema does not tag falls back to the standard claim's
    scope (OIDC Core 5.4): a phone number is under "phone", not "profile"."""
    from events.receivers import on_profile_written

    on_profile_written(
        sender=None, user=customer, changed={"phone_number": "+5511999990000"}, source="question"
    )
    collected = only(customer, "profile.field_collected")
    assert collected.data["value"]["_tag"] == {"scope": "phone"}
    updated = [e for e in events_of(customer, "user.updated") if e.data["source"] == "question"]
    assert updated[0].data["fields"]["phone_number"]["_tag"] == {"scope": "phone"}


def test_operator_actions_write_events(operator, customer):
    """Disable and enable from the console: user.disabled then user.enabled; verifying the
    email address: user.verified (the address under the email scope)."""
    from allauth.account.models import EmailAddress

    from console.services.customers import (
        customer_disable,
        customer_email_verify,
        customer_enable,
    )

    customer_disable(user=customer, operator=operator)
    customer_enable(user=customer, operator=operator)
    assert [e.type for e in events_of(customer)][-2:] == ["user.disabled", "user.enabled"]
    assert only(customer, "user.disabled").data == {"actor": "operator"}

    EmailAddress.objects.filter(user=customer).update(verified=False)
    customer_email_verify(user=customer, operator=operator)
    verified = only(customer, "user.verified")
    assert event_envelope(verified, scopes=["email"])["data"]["email"] == customer.email
    assert "email" not in event_envelope(verified, scopes=["profile"])["data"]


def test_password_compromised_action(operator_client, browser, customer):
    """The console's "Password compromised": signed out everywhere, the password stops
    working, a reset link is emailed, the audit log says so, and credential.compromised
    (after session.revoked) is written."""
    from audit.models import AuditEntry

    sign_in(browser, customer)
    mail.outbox.clear()
    url = f"/admin/accounts/user/{customer.pk}/customer/password-compromised/"
    confirmation = operator_client.post(url)
    assert confirmation.status_code == 200  # destructive: asks first
    assert not events_of(customer, "credential.compromised")
    response = operator_client.post(url, {"confirm": "yes"})
    assert response.status_code == 302, response.content[-800:]
    customer.refresh_from_db()
    assert not customer.has_usable_password()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [customer.email]
    assert AuditEntry.objects.filter(
        action="customer.password_compromised", subject=customer
    ).exists()
    compromised = only(customer, "credential.compromised")
    assert compromised.data["kind"] == "password"
    assert only(customer, "session.revoked").pk < compromised.pk
    assert browser.get("/accounts/email/").status_code == 302  # signed out


def test_the_button_is_on_the_customer_page(operator_client, customer):
    """The customer page offers the action."""
    page = operator_client.get(f"/admin/accounts/user/{customer.pk}/change/")
    assert page.status_code == 200
    assert b"password-compromised" in page.content


def test_erasure_writes_user_deleted_in_its_transaction(customer):
    """The account erased through accounts.privacy: user.deleted with the public subject;
    earlier events keep their facts only."""
    from accounts.privacy.services import account_erase

    public_id = customer.public_id
    from console.services.customers import customer_disable

    customer_disable(user=customer, operator=None)
    account_erase(user=customer, actor="test")
    deleted = OutboxEvent.objects.get(type="user.deleted")
    assert deleted.subject == public_id
    assert deleted.user is None
    assert OutboxEvent.objects.get(type="user.disabled").user is None


def test_a_password_change_is_a_credential_event(browser, customer):
    """The password changed on allauth's page: credential.changed kind password."""
    sign_in(browser, customer)
    new = "another-horse-battery-77"
    response = browser.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    changed = only(customer, "credential.changed")
    assert changed.data["kind"] == "password"
    assert new not in str(changed.data)


def test_client_authorized_and_revoked(customer):
    """Consent to a client and its revocation: client.authorized (client id, scopes) then
    client.revoked (client id)."""
    from oauth2_provider.models import get_application_model

    from consent.services.grants import consent_grant, consent_revoke
    from tests.factories import make_client

    registered = make_client("web", redirect_uris=["https://rp.example.test/callback"])
    application = get_application_model().objects.get(client_id=registered.client_id)
    consent_grant(user=customer, application=application, scopes=["openid", "email"], claims=[])
    consent_revoke(user=customer, application=application)
    authorized = only(customer, "client.authorized")
    assert authorized.data["client_id"] == registered.client_id
    assert sorted(authorized.data["scopes"]) == ["email", "openid"]
    assert only(customer, "client.revoked").data == {"client_id": registered.client_id}


def test_a_new_account_writes_user_created(customer):
    """allauth's sign-up signal (recorded as account.created): user.created."""
    from allauth.account import signals as account_signals

    request = RequestFactory().post("/accounts/signup/")
    request.user = customer
    request.session = SessionStore()
    account_signals.user_signed_up.send(sender=type(customer), request=request, user=customer)
    assert only(customer, "user.created").data == {"actor": "customer"}


def test_unrelated_audit_entries_write_nothing(operator, customer):
    """An operator action with no event of its own (a password reset email sent) and a
    system entry without a customer write no event."""
    from audit.services import audit_record

    before = OutboxEvent.objects.count()
    audit_record(action="customer.password_reset_sent", actor=operator, subject=customer)
    audit_record(action="account.erased", actor=None, changes={"account": "#1"})
    assert OutboxEvent.objects.count() == before
