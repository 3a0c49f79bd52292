"""Hardening of the transmitter: header values and hosts that cannot be sent, operators'
statuses the receiver cannot undo, rate limits, subjects a client may not name, session SETs
only to the session's clients, endpoints the worker disabled, pruning and leases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ciam.subjects import subject_for
from tests.factories import UserFactory, make_client

from .conftest import (
    SESSION,
    SESSION_REVOKED,
    STREAM_UPDATED,
    TOKEN_CLAIMS_CHANGE,
    customer_of,
    emit,
    receiver_client_make,
    run_ssf_deliver,
    run_worker,
    session_authorize,
)

PUSH = "urn:ietf:rfc:8935"


def _stream_row(stream_id):
    from ssf.models import SsfStream

    return SsfStream.objects.select_related("endpoint", "application").get(stream_id=stream_id)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer caf\u00e9", " Bearer x", "\tBearer x", "Bearer \x7f", "Bearer \x00x"],
)
def test_authorization_header_must_be_visible_ascii(receiver_client, authorization):
    """An authorization_header with non-ASCII or control characters, or leading whitespace,
    answers 400 (it could never be sent)."""
    response = receiver_client.call(
        "POST",
        "/ssf/streams",
        json={
            "delivery": {
                "method": PUSH,
                "endpoint_url": "https://rp.example.test/e",
                "authorization_header": authorization,
            }
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


def test_unicode_host_is_idna_encoded(receiver_client):
    """A push URL with a non-ASCII host is stored with its IDNA (punycode) host."""
    created = receiver_client.create_stream("https://b\u00fccher.example/events", [])
    assert created["delivery"]["endpoint_url"] == "https://xn--bcher-kva.example/events"


def test_plain_http_needs_the_private_addresses_setting(receiver_client, settings):
    """http:// push URLs are refused (400) unless CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES or
    DEBUG is on."""
    settings.CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    settings.DEBUG = False
    response = receiver_client.call(
        "POST",
        "/ssf/streams",
        json={"delivery": {"method": PUSH, "endpoint_url": "http://rp.example.test/e"}},
    )
    assert response.status_code == 400
    assert "https" in response.json()["error_description"]


def test_a_control_row_that_cannot_be_sent_is_a_failed_attempt(receiver_client, set_receiver):
    """A stored header value that cannot be encoded makes the push fail: ssf_deliver records
    a failed attempt with its next time and goes on with the other rows."""
    from ssf.models import SsfControlEvent
    from webhooks.models import Endpoint

    stream_id = receiver_client.create_stream(set_receiver.url, [])["stream_id"]
    assert receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream_id}).status_code
    Endpoint.objects.filter(ssf_stream__stream_id=stream_id).update(authorization="Bearer \u20ac")
    run_ssf_deliver()
    control = SsfControlEvent.objects.get()
    assert control.attempts == 1
    assert control.delivered_at is None
    assert control.last_error
    assert control.next_attempt_at > timezone.now()
    run_ssf_deliver()  # not due: no crash, no new attempt
    control.refresh_from_db()
    assert control.attempts == 1


def test_receiver_cannot_undo_an_operator_pause(receiver_client, set_receiver):
    """After an operator paused the stream, the receiver's POST /ssf/status answers 403 and
    the stream stays paused; once the operator enables it, the receiver may change it."""
    from ssf.services.streams import stream_status_set

    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    stream_status_set(stream=_stream_row(stream_id), status="paused", announce=True)
    undo = receiver_client.call(
        "POST", "/ssf/status", json={"stream_id": stream_id, "status": "enabled"}
    )
    assert undo.status_code == 403
    assert undo.json()["error"] == "forbidden"
    assert _stream_row(stream_id).status == "paused"
    stream_status_set(stream=_stream_row(stream_id), status="enabled", announce=True)
    own = receiver_client.call(
        "POST", "/ssf/status", json={"stream_id": stream_id, "status": "paused"}
    )
    assert own.status_code == 200


def test_verification_of_a_disabled_stream_is_refused(receiver_client, set_receiver):
    """POST /ssf/verify on a disabled stream answers 403 and owes no SET."""
    from ssf.models import SsfControlEvent
    from ssf.services.streams import stream_status_set

    stream_id = receiver_client.create_stream(set_receiver.url, [])["stream_id"]
    stream_status_set(stream=_stream_row(stream_id), status="disabled", announce=True)
    SsfControlEvent.objects.all().delete()
    response = receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream_id})
    assert response.status_code == 403
    assert not SsfControlEvent.objects.exists()


def test_management_is_rate_limited_per_client(receiver_client, set_receiver, settings):
    """Creations, deletions and verifications past CIAM_SSF_MANAGE_RATE_LIMIT in the window
    answer 429 with Retry-After; min_verification_interval survives DELETE and POST."""
    settings.CIAM_SSF_MANAGE_RATE_LIMIT = 4
    settings.CIAM_SSF_MIN_VERIFICATION_INTERVAL_SECONDS = 60
    stream_id = receiver_client.create_stream(set_receiver.url, [])["stream_id"]  # 1
    assert (
        receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream_id}).status_code
        == 204
    )  # 2
    receiver_client.call("DELETE", "/ssf/streams", params={"stream_id": stream_id})  # 3
    stream_id = receiver_client.create_stream(set_receiver.url, [])["stream_id"]  # 4
    again = receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream_id})
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) >= 1
    settings.CIAM_SSF_MANAGE_RATE_LIMIT = 0
    interval = receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream_id})
    assert interval.status_code == 429  # the per-client interval, not restarted
    assert int(interval.headers["Retry-After"]) >= 1


def test_email_subject_needs_the_email_scope(receiver_client, set_receiver):
    """A client the customer did not grant the email scope cannot name them by address:
    subjects:remove answers the same 204 but nothing is recorded; with the scope it is."""
    from ssf.models import SsfSubject

    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    hidden = customer_of(receiver_client.application, scopes=["openid", "profile"])
    shown = customer_of(receiver_client.application, scopes=["openid", "email"])
    for user in (hidden, shown):
        response = receiver_client.call(
            "POST",
            "/ssf/subjects:remove",
            json={"stream_id": stream_id, "subject": {"format": "email", "email": user.email}},
        )
        assert response.status_code == 204
    assert list(SsfSubject.objects.values_list("user", flat=True)) == [shown.pk]


def test_session_sets_go_only_to_the_sessions_clients(issuer, receiver_client, set_receiver):
    """A session revoked in a browser session where the customer authorized client A only
    reaches A's stream; B's delivery (same customer, another session) is skipped."""
    from webhooks.models import Delivery

    other = receiver_client_make(issuer, name="Other Shop")
    receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    other.create_stream(set_receiver.url + "-other", [SESSION_REVOKED])
    user = customer_of(receiver_client.application)
    customer_of(other.application, user=user, sid="another-session")
    event = emit("session.revoked", user, sid=SESSION)
    run_worker()
    statuses = dict(
        Delivery.objects.filter(event=event).values_list("endpoint__application", "status")
    )
    assert statuses == {
        receiver_client.application.pk: "succeeded",
        other.application.pk: "skipped",
    }
    [pushed] = set_receiver.wait_for(1)
    assert set_receiver.received == [pushed]


def test_sign_in_waits_for_the_clients_authorization(receiver_client, set_receiver, settings):
    """A sign-in whose session has no authorization of the client yet is retried (not
    skipped) while younger than CIAM_SSF_SESSION_WAIT_SECONDS; once authorized it is sent."""
    from webhooks.models import Delivery

    session_established = "https://schemas.openid.net/secevent/caep/event-type/session-established"
    receiver_client.create_stream(set_receiver.url, [session_established])
    user = customer_of(receiver_client.application, sid=None)
    event = emit("user.signed_in", user, sid="new-session", amr=["pwd"], acr="1")
    run_worker()
    [delivery] = Delivery.objects.filter(event=event)
    assert delivery.status == "pending"
    session_authorize(receiver_client.application, user, "new-session")
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    run_worker()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def test_bad_values_are_400_not_500(receiver_client, set_receiver):
    """NUL characters anywhere in the request, a non-string stream_id, and a
    min_verification_interval other than the transmitter's answer 400; a legacy sub of
    non-ASCII digits is just unknown (the same empty answer)."""
    from oauth2_provider.models import get_application_model

    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    for method, path, body in (
        ("PATCH", "/ssf/streams", {"stream_id": stream_id, "description": "a\x00b"}),
        ("POST", "/ssf/verify", {"stream_id": stream_id, "state": "\x00"}),
        ("POST", "/ssf/streams", {"delivery": {"method": PUSH, "endpoint_url": "https://a\x00"}}),
        ("POST", "/ssf/status", {"stream_id": [stream_id], "status": "paused"}),
        ("POST", "/ssf/verify", {"stream_id": 5}),
        ("PATCH", "/ssf/streams", {"stream_id": stream_id, "min_verification_interval": 1}),
        ("PUT", "/ssf/streams", {"stream_id": stream_id, "min_verification_interval": 1}),
    ):
        response = receiver_client.call(method, path, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "invalid_request"
    nul_query = receiver_client.call("GET", "/ssf/streams", params={"stream_id": "a\x00"})
    assert nul_query.status_code == 400
    get_application_model().objects.filter(pk=receiver_client.application.pk).update(
        subject_type="legacy"
    )
    from ciam.oauth.client_cache import application_cache_forget

    application_cache_forget(receiver_client.client_id)
    digits = receiver_client.call(
        "POST",
        "/ssf/subjects:add",
        json={
            "stream_id": stream_id,
            "subject": {"format": "iss_sub", "iss": receiver_client.issuer, "sub": "\u00b2"},
        },
    )
    assert digits.status_code == 200


def test_pairwise_subjects_are_found_and_cached(receiver_client, set_receiver, settings):
    """A pairwise iss_sub names the customer (found among the client's customers, then
    cached); past CIAM_SSF_PAIRWISE_SCAN_LIMIT the older customers are not compared."""
    from django.core.cache import cache
    from oauth2_provider.models import get_application_model

    from ciam.oauth.client_cache import application_cache_forget
    from ssf.selectors import subject_user_resolve

    get_application_model().objects.filter(pk=receiver_client.application.pk).update(
        subject_type="pairwise"
    )
    application_cache_forget(receiver_client.client_id)
    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    stream = _stream_row(stream_id)
    old = customer_of(stream.application)
    new = customer_of(stream.application)

    def subject(user):
        return {
            "format": "iss_sub",
            "iss": receiver_client.issuer,
            "sub": subject_for(user, stream.application),
        }

    assert subject_user_resolve(stream=stream, subject=subject(old))[0] == old
    key = f"ssf.pairwise:{stream.application.pk}:{subject_for(old, stream.application)}"
    assert cache.get(key) == old.pk
    cache.clear()
    settings.CIAM_SSF_PAIRWISE_SCAN_LIMIT = 1
    assert subject_user_resolve(stream=stream, subject=subject(new))[0] == new
    assert subject_user_resolve(stream=stream, subject=subject(old)) is None


def test_token_claims_change_names_claims(receiver_client, set_receiver, verify_set):
    """token-claims-change names each value by the token claim its field feeds
    (ProfileField.claim); a field that feeds no claim is left out."""
    from events.tags import tagged
    from profiling.models import ProfileField

    ProfileField.objects.filter(key="given_name").update(claim="https://shop.example/first")
    ProfileField.objects.filter(key="family_name").update(claim="")
    user = customer_of(receiver_client.application, scopes=["openid", "profile"])
    receiver_client.create_stream(set_receiver.url, [TOKEN_CLAIMS_CHANGE])
    emit(
        "user.updated",
        user,
        fields={
            "given_name": tagged("Beatriz", scope="profile"),
            "family_name": tagged("Souza", scope="profile"),
        },
        changed=["family_name", "given_name"],
        source="account",
    )
    run_worker()
    [pushed] = set_receiver.wait_for(1)
    claims = verify_set(pushed.body)[1]["events"][TOKEN_CLAIMS_CHANGE]["claims"]
    assert claims == {"https://shop.example/first": "Beatriz"}


def test_endpoint_disabled_by_the_worker_is_announced(receiver_client, set_receiver, verify_set):
    """When the webhooks worker disables a stream's endpoint (410 Gone), ssf_deliver sends
    one stream-updated SET (status disabled); an operator's Enable then turns it on again."""
    from ssf.services.streams import stream_status_set
    from webhooks.services.deliveries import endpoint_disable

    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    stream = _stream_row(stream_id)
    endpoint_disable(endpoint=stream.endpoint, reason="The receiver answered 410 Gone.")
    run_ssf_deliver()
    run_ssf_deliver()
    [pushed] = set_receiver.wait_for(1)
    event = verify_set(pushed.body)[1]["events"][STREAM_UPDATED]
    assert event == {"status": "disabled", "reason": "The receiver answered 410 Gone."}
    stream = _stream_row(stream_id)
    assert stream.status == "enabled"
    assert not stream.endpoint.active
    stream_status_set(stream=stream, status="enabled", announce=True)
    stream = _stream_row(stream_id)
    assert stream.endpoint.active
    run_ssf_deliver()
    second = verify_set(set_receiver.wait_for(2)[1].body)[1]["events"][STREAM_UPDATED]
    assert second["status"] == "enabled"


def test_old_control_rows_are_pruned_and_leased_rows_skipped(receiver_client, set_receiver):
    """ssf_deliver deletes delivered stream SETs older than CIAM_SSF_CONTROL_RETENTION_DAYS
    and does not push a row another pass holds under a lease."""
    from ssf.models import SsfControlEvent

    stream_id = receiver_client.create_stream(set_receiver.url, [])["stream_id"]
    receiver_client.call("POST", "/ssf/verify", json={"stream_id": stream_id})
    SsfControlEvent.objects.update(lease_until=timezone.now() + timedelta(minutes=5))
    run_ssf_deliver()
    assert set_receiver.received == []
    SsfControlEvent.objects.update(lease_until=None)
    run_ssf_deliver()
    assert len(set_receiver.wait_for(1)) == 1
    SsfControlEvent.objects.update(created_at=timezone.now() - timedelta(days=8))
    run_ssf_deliver()
    assert not SsfControlEvent.objects.exists()


def test_admin_delete_removes_the_endpoint(client, db):
    """Deleting a stream in admin goes through the stream delete service: its push
    endpoint goes too."""
    from django.contrib.auth import get_user_model
    from oauth2_provider.models import get_application_model

    from ssf.models import SsfStream
    from ssf.services.streams import stream_create
    from webhooks.models import Endpoint

    operator = get_user_model().objects.create_superuser(
        email="operator@example.com", password="operator-password-1"
    )
    client.force_login(operator)
    registered = make_client("web", name="Partner Shop", redirect_uris=["https://rp.test/cb"])
    application = get_application_model().objects.get(client_id=registered.client_id)
    stream = stream_create(
        application=application,
        payload={"delivery": {"method": PUSH, "endpoint_url": "https://rp.example.test/e"}},
    )
    UserFactory()
    response = client.post(
        "/admin/ssf/ssfstream/",
        {"action": "delete_selected", "_selected_action": [stream.pk], "post": "yes"},
        HTTP_HOST="localhost",
    )
    assert response.status_code == 302
    assert not SsfStream.objects.exists()
    assert not Endpoint.objects.filter(pk=stream.endpoint_id).exists()


def test_disabling_a_paused_stream_drops_what_it_held(receiver_client, set_receiver):
    """Events held while paused are cancelled when the stream is disabled (a disabled
    stream holds nothing) and not sent once it is enabled again."""
    from webhooks.models import Delivery

    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    user = customer_of(receiver_client.application)
    receiver_client.call("POST", "/ssf/status", json={"stream_id": stream_id, "status": "paused"})
    held = emit("session.revoked", user, sid=SESSION)
    receiver_client.call("POST", "/ssf/status", json={"stream_id": stream_id, "status": "disabled"})
    assert [d.status for d in Delivery.objects.filter(event=held)] == ["cancelled"]
    receiver_client.call("POST", "/ssf/status", json={"stream_id": stream_id, "status": "enabled"})
    run_worker()
    assert set_receiver.received == []
