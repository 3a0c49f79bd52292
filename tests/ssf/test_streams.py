"""SSF 1.0 8.1.1 and 8.1.2: stream management by the receiving client, with a
client_credentials token carrying ssf:manage; errors as JSON with SSF's status codes."""

from __future__ import annotations

import pytest
import requests

from tests.factories import service_session

from .conftest import (
    CREDENTIAL_CHANGE,
    SESSION_REVOKED,
    TIMEOUT,
    receiver_client_make,
)

UNKNOWN_EVENT = "urn:example:secevent:events:unknown"


def test_stream_lifecycle(receiver_client, set_receiver):
    """A receiver creates a stream (201: iss, aud = its client_id, events_delivered = what it
    requested and the transmitter supports, unknown URIs ignored), reads it alone and in the
    list, updates it (PATCH keeps what is not sent), replaces it (PUT drops what is not
    sent) and deletes it (204, then 404; its push endpoint is gone too)."""
    from webhooks.models import Endpoint

    created = receiver_client.create_stream(
        set_receiver.url, [SESSION_REVOKED, UNKNOWN_EVENT], description="Shop sessions"
    )
    stream_id = created["stream_id"]
    assert created["iss"] == receiver_client.issuer
    assert created["aud"] == receiver_client.client_id
    assert created["events_requested"] == [SESSION_REVOKED, UNKNOWN_EVENT]
    assert created["events_delivered"] == [SESSION_REVOKED]
    assert SESSION_REVOKED in created["events_supported"]
    assert created["delivery"] == {"method": "urn:ietf:rfc:8935", "endpoint_url": set_receiver.url}
    assert created["description"] == "Shop sessions"
    endpoint = Endpoint.objects.get(ssf_stream__stream_id=stream_id)
    assert endpoint.kind == "ssf"
    assert endpoint.authorization == "Bearer receiver-secret-token"
    assert endpoint.event_types == ["session.revoked", "user.signed_out"]

    one = receiver_client.call("GET", "/ssf/streams", params={"stream_id": stream_id})
    assert one.status_code == 200
    assert one.headers["Cache-Control"] == "no-store"
    assert one.json() == created
    listed = receiver_client.call("GET", "/ssf/streams")
    assert listed.json() == [created]

    patched = receiver_client.call(
        "PATCH",
        "/ssf/streams",
        json={"stream_id": stream_id, "events_requested": [SESSION_REVOKED, CREDENTIAL_CHANGE]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["events_delivered"] == [SESSION_REVOKED, CREDENTIAL_CHANGE]
    assert patched.json()["description"] == "Shop sessions"
    endpoint.refresh_from_db()
    assert "credential.added" in endpoint.event_types

    replaced = receiver_client.call(
        "PUT",
        "/ssf/streams",
        json={
            "stream_id": stream_id,
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": set_receiver.url + "2"},
            "events_requested": [CREDENTIAL_CHANGE],
        },
    )
    assert replaced.status_code == 200, replaced.text
    assert "description" not in replaced.json()
    assert replaced.json()["events_delivered"] == [CREDENTIAL_CHANGE]
    assert replaced.json()["delivery"]["endpoint_url"] == set_receiver.url + "2"
    endpoint.refresh_from_db()
    assert endpoint.authorization == ""

    deleted = receiver_client.call("DELETE", "/ssf/streams", params={"stream_id": stream_id})
    assert deleted.status_code == 204
    gone = receiver_client.call("GET", "/ssf/streams", params={"stream_id": stream_id})
    assert gone.status_code == 404
    assert gone.json()["error"] == "not_found"
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_second_stream_is_a_conflict(receiver_client, set_receiver):
    """With CIAM_SSF_MAX_STREAMS_PER_CLIENT at its default (1), a second create answers
    409 Conflict (SSF 1.0 8.1.1.1)."""
    receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])
    again = receiver_client.call(
        "POST",
        "/ssf/streams",
        json={"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": set_receiver.url}},
    )
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"


def test_another_client_cannot_see_or_touch_the_stream(issuer, receiver_client, set_receiver):
    """Another client's token finds no such stream (404) for read, update, delete, status,
    subjects and verification, and lists none."""
    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    other = receiver_client_make(issuer, name="Other Shop")
    assert other.call("GET", "/ssf/streams").json() == []
    calls = [
        ("GET", "/ssf/streams", {"params": {"stream_id": stream_id}}),
        ("PATCH", "/ssf/streams", {"json": {"stream_id": stream_id, "description": "x"}}),
        (
            "PUT",
            "/ssf/streams",
            {
                "json": {
                    "stream_id": stream_id,
                    "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": set_receiver.url},
                }
            },
        ),
        ("DELETE", "/ssf/streams", {"params": {"stream_id": stream_id}}),
        ("GET", "/ssf/status", {"params": {"stream_id": stream_id}}),
        ("POST", "/ssf/status", {"json": {"stream_id": stream_id, "status": "paused"}}),
        ("POST", "/ssf/verify", {"json": {"stream_id": stream_id}}),
        (
            "POST",
            "/ssf/subjects:add",
            {"json": {"stream_id": stream_id, "subject": {"format": "email", "email": "a@b.c"}}},
        ),
        (
            "POST",
            "/ssf/subjects:remove",
            {"json": {"stream_id": stream_id, "subject": {"format": "email", "email": "a@b.c"}}},
        ),
    ]
    for method, path, kwargs in calls:
        response = other.call(method, path, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "not_found"
    still = receiver_client.call("GET", "/ssf/status", params={"stream_id": stream_id})
    assert still.json()["status"] == "enabled"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"delivery": {}}', "text/plain"),
    ],
)
def test_malformed_bodies_are_400(receiver_client, body, content_type):
    """Bodies that are not a JSON object (bad JSON, bad UTF-8, an array, not sent as JSON)
    answer 400 invalid_request in JSON, never a 500."""
    response = receiver_client.call(
        "POST", "/ssf/streams", data=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "delivery",
    [
        None,
        {"method": "urn:ietf:rfc:8936"},
        {"method": "urn:ietf:rfc:8935", "endpoint_url": "ftp://receiver.example.test/events"},
        {"method": "urn:ietf:rfc:8935", "endpoint_url": "javascript:alert(1)"},
        {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://user:pw@rp.example.test/e"},
        {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://rp.example.test/e#frag"},
        {"method": "urn:ietf:rfc:8935", "endpoint_url": 42},
        {
            "method": "urn:ietf:rfc:8935",
            "endpoint_url": "https://rp.example.test/e",
            "authorization_header": "Bearer a\r\nX-Injected: 1",
        },
        "https://rp.example.test/e",
    ],
)
def test_bad_deliveries_are_refused(receiver_client, delivery):
    """Only push delivery to an http(s) URL without credentials or fragment, with a
    one-line authorization header, is accepted (poll, other schemes: 400)."""
    body = {"events_requested": [SESSION_REVOKED]}
    if delivery is not None:
        body["delivery"] = delivery
    response = receiver_client.call("POST", "/ssf/streams", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


def test_invalid_updates_are_400(receiver_client, set_receiver):
    """Changing a transmitter-supplied property (aud, iss, events_delivered), events that are
    not a list of URIs, or no stream_id answer 400; nothing changes."""
    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    for body in (
        {"stream_id": stream_id, "aud": "someone-else"},
        {"stream_id": stream_id, "iss": "https://evil.example.test"},
        {"stream_id": stream_id, "events_delivered": [CREDENTIAL_CHANGE]},
        {"stream_id": stream_id, "events_requested": "all"},
        {"stream_id": stream_id, "events_requested": [1, 2]},
        {"stream_id": stream_id, "description": ["x"]},
        {"events_requested": [SESSION_REVOKED]},
    ):
        response = receiver_client.call("PATCH", "/ssf/streams", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "invalid_request"
    current = receiver_client.call("GET", "/ssf/streams", params={"stream_id": stream_id})
    assert current.json()["events_delivered"] == [SESSION_REVOKED]


def test_tokens_and_methods(issuer, receiver_client):
    """No token: 401 with the Bearer challenge; a token without ssf:manage: 403
    insufficient_scope; a token in the query string: 400; other methods: 405; unknown paths
    under /ssf/: a JSON 404."""
    missing = requests.get(issuer + "/ssf/streams", timeout=TIMEOUT)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    bad = requests.get(
        issuer + "/ssf/streams", headers={"Authorization": "Bearer nope"}, timeout=TIMEOUT
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_token"
    crm = service_session(issuer, "profile:read")
    forbidden = crm.get(issuer + "/ssf/streams")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "insufficient_scope"
    query = requests.get(
        issuer + "/ssf/streams", params={"access_token": receiver_client.token}, timeout=TIMEOUT
    )
    assert query.status_code == 400
    assert query.json()["error"] == "invalid_request"
    assert receiver_client.call("GET", "/ssf/verify").status_code == 405
    unknown = receiver_client.call("GET", "/ssf/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"


def test_status_read_and_update(receiver_client, set_receiver):
    """The receiver reads the status (enabled), pauses the stream with a reason (200 with
    the new status; its push endpoint stops), enables it again; a bad status is 400 and a
    missing stream_id 400."""
    from webhooks.models import Endpoint

    stream_id = receiver_client.create_stream(set_receiver.url, [SESSION_REVOKED])["stream_id"]
    read = receiver_client.call("GET", "/ssf/status", params={"stream_id": stream_id})
    assert read.status_code == 200
    assert read.json() == {"stream_id": stream_id, "status": "enabled"}
    paused = receiver_client.call(
        "POST",
        "/ssf/status",
        json={"stream_id": stream_id, "status": "paused", "reason": "maintenance"},
    )
    assert paused.status_code == 200
    assert paused.json() == {"stream_id": stream_id, "status": "paused", "reason": "maintenance"}
    assert not Endpoint.objects.get(ssf_stream__stream_id=stream_id).active
    enabled = receiver_client.call(
        "POST", "/ssf/status", json={"stream_id": stream_id, "status": "enabled"}
    )
    assert enabled.json()["status"] == "enabled"
    assert Endpoint.objects.get(ssf_stream__stream_id=stream_id).active
    bogus = receiver_client.call(
        "POST", "/ssf/status", json={"stream_id": stream_id, "status": "sleeping"}
    )
    assert bogus.status_code == 400
    no_id = receiver_client.call("GET", "/ssf/status")
    assert no_id.status_code == 400
