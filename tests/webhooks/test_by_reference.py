"""A body over the size limit is sent by reference; GET /api/events/<id> answers the full
envelope to the endpoint's token holder, JSON errors to anybody else."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from .conftest import endpoint_create, run_worker, sign_in_emit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent_by_reference(issuer, receiver, customer, settings):
    settings.CIAM_WEBHOOKS_MAX_PAYLOAD_BYTES = 1000
    endpoint = endpoint_create(receiver.url)
    event = sign_in_emit(customer, note="x" * 2000)
    run_worker()
    (got,) = receiver.received
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    return endpoint, event, payload, len(got.body)


def test_large_body_is_sent_by_reference_and_fetched_with_its_token(sent_by_reference, issuer):
    """The delivery stays under the limit with data.data_ref; that URL answers the whole
    envelope, the same the endpoint would have been sent."""
    _endpoint, event, payload, size = sent_by_reference
    assert size <= 1000
    ref = payload["data"]["data_ref"]
    assert ref.startswith(f"{issuer}/api/events/{event.event_id}?")
    assert payload["data"]["size"] > 2000
    response = requests.get(ref, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    full = response.json()
    assert full["id"] == str(event.event_id)
    assert full["data"]["note"] == "x" * 2000
    assert full["subject"] == payload["subject"]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"token": "A" * 43}, 403, "invalid_token"),
        ({"expires": "1"}, 403, "invalid_token"),
        ({"endpoint": "999999"}, 403, "invalid_token"),
        ({"endpoint": "x"}, 400, "invalid_request"),
        ({"token": ""}, 400, "invalid_request"),
    ],
)
def test_a_wrong_reference_is_a_json_error(sent_by_reference, change, status, error):
    """A forged, expired or mangled reference gets a JSON error, never the data."""
    _endpoint, _event, payload, _size = sent_by_reference
    parts = urlsplit(payload["data"]["data_ref"])
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(change)
    url = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"
    response = requests.get(url, timeout=10)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "note" not in response.text


def test_another_endpoints_token_and_other_methods_are_refused(
    sent_by_reference, issuer, make_receiver
):
    """A valid token of an endpoint that was never sent the event is 404; POST is 405; an
    unknown path under /api/events/ is a JSON 404."""
    from webhooks.formats import data_ref_url

    _endpoint, event, payload, _size = sent_by_reference
    stranger = endpoint_create(make_receiver().url, name="Other", event_types=["consent.granted"])
    response = requests.get(data_ref_url(endpoint=stranger, event=event), timeout=10)
    assert (response.status_code, response.json()["error"]) == (404, "unknown_event")
    response = requests.post(payload["data"]["data_ref"], timeout=10)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    response = requests.get(f"{issuer}/api/events/a/b", timeout=10)
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
