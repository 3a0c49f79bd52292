"""Push delivery (RFC 8935) of SETs (RFC 8417) through the webhooks worker to a loopback
receiver: signed with the provider's keys and verified against the published JWKS, CAEP and
RISC events from the outbox, only for customers of the receiving client, never while the
stream is paused; the stream's own verification and stream-updated SETs."""

from __future__ import annotations

import uuid

import pytest

from ciam.subjects import subject_for
from tests.factories import UserFactory

from .conftest import (
    ACCOUNT_DISABLED,
    ACCOUNT_PURGED,
    ASSURANCE_LEVEL_CHANGE,
    CREDENTIAL_CHANGE,
    CREDENTIAL_COMPROMISE,
    RECEIVER_AUTHORIZATION,
    SESSION,
    SESSION_REVOKED,
    STREAM_UPDATED,
    TOKEN_CLAIMS_CHANGE,
    VERIFICATION,
    customer_of,
    emit,
    run_ssf_deliver,
    run_worker,
)


def _deliveries(event):
    from webhooks.models import Delivery

    return list(Delivery.objects.filter(event=event))


def test_session_revoked_set_reaches_the_receiver_and_verifies(
    receiver_client, set_receiver, verify_set
):
    """A revoked session is pushed once as a CAEP session-revoked SET: POSTed as
    application/secevent+jwt with the receiver's Authorization header, answered 202; its
    signature verifies with the key the JWKS publishes under its kid; typ secevent+jwt;
    iss, aud (the client_id), jti, iat, txn (the event id), sub_id iss_sub with the sub the
    client knows, event_timestamp; no sub, no exp. The delivery is recorded as succeeded."""
    stream = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    user = customer_of(receiver_client.application)
    event = emit("session.revoked", user, sid=SESSION)
    stats = run_worker()
    assert stats.by_status.get("succeeded") == 1, stats
    [pushed] = set_receiver.wait_for(1)
    assert pushed.headers["content-type"] == "application/secevent+jwt"
    assert pushed.headers["accept"] == "application/json"
    assert pushed.headers["authorization"] == RECEIVER_AUTHORIZATION
    header, claims = verify_set(pushed.body)
    assert header["typ"] == "secevent+jwt"
    assert header["alg"] == "RS256"
    assert claims["iss"] == receiver_client.issuer == stream["iss"]
    assert claims["aud"] == receiver_client.client_id == stream["aud"]
    assert claims["sub_id"] == {
        "format": "iss_sub",
        "iss": receiver_client.issuer,
        "sub": subject_for(user, receiver_client.application),
    }
    assert claims["txn"] == str(event.event_id)
    assert claims["jti"]
    assert isinstance(claims["iat"], int)
    assert "sub" not in claims
    assert "exp" not in claims
    assert claims["events"] == {SESSION_REVOKED: {"event_timestamp": int(event.time.timestamp())}}
    [delivery] = _deliveries(event)
    assert delivery.status == "succeeded"
    assert delivery.last_status_code == 202


def test_pairwise_client_gets_its_own_sub(receiver_client, set_receiver, verify_set):
    """A pairwise client's SETs name the customer by the pairwise sub of its ID tokens."""
    from oauth2_provider.models import get_application_model

    from ciam.oauth.client_cache import application_cache_forget

    get_application_model().objects.filter(pk=receiver_client.application.pk).update(
        subject_type="pairwise"
    )
    application_cache_forget(receiver_client.client_id)
    receiver_client.application.refresh_from_db()
    receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    user = customer_of(receiver_client.application)
    emit("user.signed_out", user, sid=SESSION)
    run_worker()
    _, claims = verify_set(set_receiver.wait_for(1)[0].body)
    sub = subject_for(user, receiver_client.application)
    assert sub != user.public_id
    assert claims["sub_id"]["sub"] == sub
    assert claims["events"][SESSION_REVOKED]["initiating_entity"] == "user"


@pytest.mark.parametrize(
    ("event_type", "kind", "credential_type", "change_type"),
    [
        ("credential.added", "passkey", "fido2-platform", "create"),
        ("credential.changed", "password", "password", "update"),
        ("credential.removed", "totp", "app", "delete"),
    ],
)
def test_credential_changes_are_caep_credential_change(
    receiver_client, set_receiver, verify_set, event_type, kind, credential_type, change_type
):
    """Passkeys, passwords and authenticator apps added, changed or removed become CAEP
    credential-change with its credential_type and change_type."""
    receiver_client.create_stream(set_receiver.url, [CREDENTIAL_CHANGE])
    user = customer_of(receiver_client.application)
    emit(event_type, user, kind=kind, action="x", actor="user")
    run_worker()
    _, claims = verify_set(set_receiver.wait_for(1)[0].body)
    body = claims["events"][CREDENTIAL_CHANGE]
    assert body["credential_type"] == credential_type
    assert body["change_type"] == change_type
    assert body["initiating_entity"] == "user"


def test_assurance_and_risc_events(receiver_client, set_receiver, verify_set):
    """A raised acr is CAEP assurance-level-change (namespace, levels, increase); a disabled
    account RISC account-disabled; a compromised password RISC credential-compromise."""
    receiver_client.create_stream(
        set_receiver.url, [ASSURANCE_LEVEL_CHANGE, ACCOUNT_DISABLED, CREDENTIAL_COMPROMISE]
    )
    user = customer_of(receiver_client.application)
    assurance = emit(
        "assurance.changed", user, acr_before="1", acr_after="phr", amr=["pwd", "hwk"], sid=SESSION
    )
    emit("user.disabled", user, actor="operator")
    emit("credential.compromised", user, kind="password", action="customer.password_compromised")
    run_worker()
    pushed = set_receiver.wait_for(3)
    events = {}
    for item in pushed:
        _, claims = verify_set(item.body)
        events.update(claims["events"])
    assert events[ASSURANCE_LEVEL_CHANGE] == {
        "namespace": "ciam-acr",
        "current_level": "phr",
        "previous_level": "1",
        "change_direction": "increase",
        "event_timestamp": int(assurance.time.timestamp()),
    }
    assert events[ACCOUNT_DISABLED]["initiating_entity"] == "admin"
    assert events[CREDENTIAL_COMPROMISE]["credential_type"] == "password"


def test_token_claims_change_carries_only_granted_scopes(receiver_client, set_receiver, verify_set):
    """A profile change is CAEP token-claims-change with the new values of the claims the
    client's grant covers: a client granted profile but not email gets the name, not the
    address; a change of claims it may not see sends nothing."""
    from events.tags import tagged

    user = customer_of(receiver_client.application, scopes=["openid", "profile"])
    receiver_client.create_stream(set_receiver.url, [TOKEN_CLAIMS_CHANGE])
    emit(
        "user.updated",
        user,
        fields={
            "given_name": tagged("Beatriz", scope="profile"),
            "email": tagged("bia@example.com", scope="email"),
        },
        changed=["email", "given_name"],
        source="account",
    )
    only_email = emit(
        "user.updated",
        user,
        fields={"email": tagged("new@example.com", scope="email")},
        changed=["email"],
        source="account",
    )
    run_worker()
    [pushed] = set_receiver.wait_for(1)
    _, claims = verify_set(pushed.body)
    assert claims["events"][TOKEN_CLAIMS_CHANGE]["claims"] == {"given_name": "Beatriz"}
    assert [delivery.status for delivery in _deliveries(only_email)] == ["skipped"]


def test_customers_of_other_clients_are_not_sent(receiver_client, set_receiver):
    """A customer who never used the receiving client is not on its stream: the delivery is
    skipped and nothing is pushed; nor after they removed the client (grant revoked)."""
    from django.utils import timezone

    from consent.models import Consent

    receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    stranger = UserFactory()
    event = emit("session.revoked", stranger, sid=SESSION)
    former = customer_of(receiver_client.application)
    Consent.objects.filter(user=former).update(revoked_at=timezone.now())
    left = emit("session.revoked", former, sid=SESSION)
    run_worker()
    assert [delivery.status for delivery in _deliveries(event)] == ["skipped"]
    assert [delivery.status for delivery in _deliveries(left)] == ["skipped"]
    assert set_receiver.received == []


def test_paused_stream_holds_events(receiver_client, set_receiver, verify_set):
    """While the receiver has paused its stream, events are not sent but held (SSF 1.0
    8.1.2.1 SHOULD); once enabled again, the held event is sent first, then new ones."""
    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    user = customer_of(receiver_client.application)
    paused = receiver_client.call(
        "POST", "/ssf/status", json={"stream_id": stream_id, "status": "paused"}
    )
    assert paused.status_code == 200
    held = emit("session.revoked", user, sid=SESSION)
    run_worker()
    assert set_receiver.received == []
    assert [delivery.status for delivery in _deliveries(held)] == ["pending"]
    receiver_client.call("POST", "/ssf/status", json={"stream_id": stream_id, "status": "enabled"})
    later = emit("session.revoked", user, sid=SESSION)
    run_worker()
    run_worker()
    first, second = set_receiver.wait_for(2)
    assert verify_set(first.body)[1]["txn"] == str(held.event_id)
    assert verify_set(second.body)[1]["txn"] == str(later.event_id)


def test_event_types_not_delivered_are_not_sent(receiver_client, set_receiver):
    """A stream that asked only for session-revoked gets no delivery for a disabled
    account (its endpoint does not listen to it) and the formatter refuses it anyway."""
    from ssf.delivery import set_for_event
    from ssf.models import SsfStream

    receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    user = customer_of(receiver_client.application)
    event = emit("user.disabled", user, actor="operator")
    assert _deliveries(event) == []
    stream = SsfStream.objects.get(application=receiver_client.application)
    assert set_for_event(stream=stream, event=event) is None


def test_subjects_remove_and_add(receiver_client, set_receiver, verify_set):
    """default_subjects ALL: a customer removed with subjects:remove (204) gets no SET; added
    back with subjects:add (empty 200) they do. Unknown subjects and people who do not use
    the client get the same answers (no probing); unsupported formats are 400."""
    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    user = customer_of(receiver_client.application)
    subject = {
        "format": "iss_sub",
        "iss": receiver_client.issuer,
        "sub": subject_for(user, receiver_client.application),
    }
    removed = receiver_client.call(
        "POST", "/ssf/subjects:remove", json={"stream_id": stream_id, "subject": subject}
    )
    assert removed.status_code == 204
    first = emit("session.revoked", user, sid=SESSION)
    run_worker()
    assert [delivery.status for delivery in _deliveries(first)] == ["skipped"]
    added = receiver_client.call(
        "POST",
        "/ssf/subjects:add",
        json={"stream_id": stream_id, "subject": {"format": "email", "email": user.email}},
    )
    assert added.status_code == 200
    assert added.content == b""
    second = emit("session.revoked", user, sid=SESSION)
    run_worker()
    [pushed] = set_receiver.wait_for(1)
    assert verify_set(pushed.body)[1]["txn"] == str(second.event_id)

    stranger = UserFactory()
    for unknown in (
        {"format": "email", "email": stranger.email},
        {"format": "email", "email": "nobody@example.com"},
        {"format": "iss_sub", "iss": "https://other.example.test", "sub": "x"},
    ):
        response = receiver_client.call(
            "POST", "/ssf/subjects:add", json={"stream_id": stream_id, "subject": unknown}
        )
        assert response.status_code == 200
    unsupported = receiver_client.call(
        "POST",
        "/ssf/subjects:add",
        json={"stream_id": stream_id, "subject": {"format": "phone", "phone_number": "+1"}},
    )
    assert unsupported.status_code == 400
    not_bool = receiver_client.call(
        "POST",
        "/ssf/subjects:add",
        json={"stream_id": stream_id, "subject": subject, "verified": "yes"},
    )
    assert not_bool.status_code == 400


def test_default_subjects_none_sends_only_added(issuer, settings, set_receiver, verify_set):
    """With CIAM_SSF_DEFAULT_SUBJECTS=NONE, only customers added to the stream are sent."""
    from .conftest import receiver_client_make

    settings.CIAM_SSF_DEFAULT_SUBJECTS = "NONE"
    client = receiver_client_make(issuer)
    stream_id = client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    added, other = customer_of(client.application), customer_of(client.application)
    response = client.call(
        "POST",
        "/ssf/subjects:add",
        json={"stream_id": stream_id, "subject": {"format": "email", "email": added.email}},
    )
    assert response.status_code == 200
    skipped = emit("session.revoked", other, sid=SESSION)
    sent = emit("session.revoked", added, sid=SESSION)
    run_worker()
    [pushed] = set_receiver.wait_for(1)
    assert verify_set(pushed.body)[1]["txn"] == str(sent.event_id)
    assert [delivery.status for delivery in _deliveries(skipped)] == ["skipped"]


def test_deleted_account_is_risc_account_purged(receiver_client, set_receiver, verify_set):
    """An account deleted by an operator reaches its clients' streams as RISC account-purged,
    named by the sub the client knew (remembered before the row went); the deletion of
    someone the client did not know is skipped at once."""
    from events.models import OutboxEvent

    receiver_client.create_stream(set_receiver.url, [ACCOUNT_PURGED])
    user = customer_of(receiver_client.application)
    sub = subject_for(user, receiver_client.application)
    stranger = UserFactory()
    stranger.delete()
    user.delete()
    stats = run_worker()
    assert stats.by_status == {"skipped": 1, "succeeded": 1}
    [gone] = OutboxEvent.objects.filter(type="user.deleted", subject=stranger.public_id)
    assert [delivery.status for delivery in _deliveries(gone)] == ["skipped"]
    [pushed] = set_receiver.wait_for(1)
    _, claims = verify_set(pushed.body)
    assert claims["sub_id"]["sub"] == sub
    assert ACCOUNT_PURGED in claims["events"]


def test_erased_account_is_risc_account_purged(receiver_client, set_receiver, verify_set):
    """An erasure (which removes tokens and grants before the row) still reaches the
    client's stream as account-purged, by the sub the erasure says the client knew."""
    from accounts.privacy.services import account_erase

    receiver_client.create_stream(set_receiver.url, [ACCOUNT_PURGED])
    user = customer_of(receiver_client.application)
    sub = subject_for(user, receiver_client.application)
    account_erase(user=user, actor="operator #1")
    run_worker()
    [pushed] = set_receiver.wait_for(1)
    assert verify_set(pushed.body)[1]["sub_id"]["sub"] == sub


def test_verification_event(receiver_client, set_receiver, verify_set, settings):
    """POST /ssf/verify answers 204 without pushing inside the request; the next pass of
    manage.py ssf_deliver pushes an SSF verification SET echoing the state, its sub_id the
    stream (opaque), with a User-Agent; a second request sooner than
    min_verification_interval answers 429 with Retry-After."""
    stream = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    state = uuid.uuid4().hex
    response = receiver_client.call(
        "POST", "/ssf/verify", json={"stream_id": stream["stream_id"], "state": state}
    )
    assert response.status_code == 204
    assert set_receiver.received == []
    run_ssf_deliver()
    [pushed] = set_receiver.wait_for(1)
    assert pushed.headers["authorization"] == RECEIVER_AUTHORIZATION
    assert pushed.headers["user-agent"] == "CIAM-SSF/1.0"
    header, claims = verify_set(pushed.body)
    assert header["typ"] == "secevent+jwt"
    assert claims["aud"] == receiver_client.client_id
    assert claims["sub_id"] == {"format": "opaque", "id": stream["stream_id"]}
    assert claims["events"] == {VERIFICATION: {"state": state}}

    settings.CIAM_SSF_MIN_VERIFICATION_INTERVAL_SECONDS = 60
    first = receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream["stream_id"]})
    assert first.status_code == 204
    again = receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream["stream_id"]})
    assert again.status_code == 429
    assert again.json()["error"] == "too_many_requests"
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    bad_state = receiver_client.call(
        "POST", "/ssf/verify", json={"stream_id": stream["stream_id"], "state": 5}
    )
    assert bad_state.status_code == 400


def test_failed_verification_is_retried(receiver_client, set_receiver, verify_set):
    """A verification SET the receiver refuses is retried by manage.py ssf_deliver once due,
    with the same jti; then it is delivered."""
    from django.utils import timezone

    from ssf.models import SsfControlEvent

    stream = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    set_receiver.status = 503
    receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream["stream_id"]})
    run_ssf_deliver()
    control = SsfControlEvent.objects.get()
    assert control.delivered_at is None
    assert control.last_status_code == 503
    assert control.lease_until is None
    set_receiver.status = 202
    run_ssf_deliver()  # not due yet: nothing sent
    assert len(set_receiver.received) == 1
    SsfControlEvent.objects.update(next_attempt_at=timezone.now())
    run_ssf_deliver()
    control.refresh_from_db()
    assert control.delivered_at is not None
    first, second = set_receiver.wait_for(2)
    assert verify_set(first.body)[1]["jti"] == verify_set(second.body)[1]["jti"]


def test_operator_pause_sends_stream_updated(receiver_client, set_receiver, verify_set):
    """An operator pausing a stream (the transmitter's decision) tells the receiver with a
    stream-updated SET (SSF 1.0 8.1.5), pushed by manage.py ssf_deliver."""
    from ssf.models import SsfStream
    from ssf.services.streams import stream_status_set

    created = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    stream = SsfStream.objects.select_related("endpoint").get(stream_id=created["stream_id"])
    stream_status_set(stream=stream, status="paused", reason="Maintenance", announce=True)
    run_ssf_deliver()
    [pushed] = set_receiver.wait_for(1)
    _, claims = verify_set(pushed.body)
    assert claims["events"] == {STREAM_UPDATED: {"status": "paused", "reason": "Maintenance"}}
    assert claims["sub_id"] == {"format": "opaque", "id": created["stream_id"]}


def test_private_addresses_are_refused_without_the_setting(receiver_client, set_receiver, settings):
    """The SSRF guard: a push to a loopback URL is refused (nothing reaches it) unless
    CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES is on."""
    receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    user = customer_of(receiver_client.application)
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    event = emit("session.revoked", user, sid=SESSION)
    run_worker()
    [delivery] = _deliveries(event)
    assert delivery.status == "pending"
    assert "refused" in delivery.last_error
    assert set_receiver.received == []
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    stream_id = receiver_client.call("GET", "/ssf/streams").json()[0]["stream_id"]
    verify = receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream_id})
    assert verify.status_code == 204
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    run_ssf_deliver()
    from ssf.models import SsfControlEvent

    control = SsfControlEvent.objects.get()
    assert control.delivered_at is None
    assert control.last_error.startswith("refused")
    assert set_receiver.received == []
