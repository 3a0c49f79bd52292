"""POST /api/interactions/ against the live provider, with a client_credentials token
(Authlib): consent and idempotency enforced per item, schema errors per item, whole-request
errors as JSON."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from django.test import override_settings

from consent.models import ConsentAction
from events.models import OutboxEvent
from interactions.models import Interaction
from tests.factories import UserFactory, service_session

from .conftest import TIMEOUT, decide, item, occurred


def assert_json_error(response: requests.Response, status: int, error: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error, body
    return body


# --- storing --------------------------------------------------------------------------------


def test_a_batch_is_stored_in_order_with_one_result_per_item(customer, post_batch):
    """Every kind of interaction of a consenting customer is stored; the results follow the
    order of the items and count each status."""
    kinds = ["purchase", "app_open", "page_view", "support_contact", "campaign_click"]
    items = [item(kind, user=customer) for kind in kinds]
    response = post_batch(items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] == 5
    assert body["duplicate"] == body["refused"] == body["invalid"] == 0
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
    assert [r["idempotency_key"] for r in body["results"]] == [i["idempotency_key"] for i in items]
    assert {r["status"] for r in body["results"]} == {"stored"}
    rows = Interaction.objects.filter(user=customer)
    assert sorted(rows.values_list("type", flat=True)) == sorted(kinds)
    purchase = rows.get(type="purchase")
    assert purchase.purpose == "personalization"  # the default purpose of a purchase
    assert purchase.properties == {"order_id": "A-1", "amount": "19.90", "currency": "BRL"}
    assert rows.get(type="page_view").purpose == "analytics"


def test_a_customer_is_named_by_public_subject(customer, post_batch):
    """``user: {"sub": ...}`` names the customer by their public subject."""
    response = post_batch([item("app_open", user={"sub": customer.public_id})])
    assert response.json()["results"][0]["status"] == "stored", response.text
    assert Interaction.objects.get().user == customer


def test_each_stored_interaction_writes_its_outbox_event(customer, post_batch):
    """Each stored interaction has its interaction.recorded event, which needs the
    interaction's purpose to be seen; refused and invalid items have none."""
    response = post_batch(
        [item("purchase", user=customer), item("page_view", user=customer, type="nope")]
    )
    assert response.json()["stored"] == 1
    events = list(OutboxEvent.objects.filter(type="interaction.recorded"))
    assert len(events) == 1
    assert events[0].user == customer
    assert events[0].data["_requires"] == {"purpose": "personalization"}
    assert events[0].data["type"] == "purchase"


# --- idempotency ----------------------------------------------------------------------------


def test_a_replayed_batch_adds_nothing(customer, post_batch):
    """The same batch sent twice: the second answer is all "duplicate" and neither an
    interaction nor an event is added."""
    items = [item(kind, user=customer) for kind in ("purchase", "page_view", "app_open")]
    assert post_batch(items).json()["stored"] == 3
    rows, events = Interaction.objects.count(), OutboxEvent.objects.count()
    replay = post_batch(items).json()
    assert replay["duplicate"] == 3
    assert replay["stored"] == 0
    assert {r["status"] for r in replay["results"]} == {"duplicate"}
    assert Interaction.objects.count() == rows == 3
    assert OutboxEvent.objects.count() == events


def test_a_key_repeated_in_one_batch_is_stored_once(customer, post_batch):
    """Two items with the same key in one batch: the first is stored, the second is a
    duplicate, whatever its content."""
    first = item("page_view", user=customer)
    second = item("app_open", user=customer, idempotency_key=first["idempotency_key"])
    results = post_batch([first, second]).json()["results"]
    assert [r["status"] for r in results] == ["stored", "duplicate"]
    assert Interaction.objects.get().type == "page_view"


def test_keys_belong_to_their_client(customer, post_batch, issuer):
    """Another client may use the same key: keys are unique per client."""
    shared = item("page_view", user=customer)
    assert post_batch([shared]).json()["stored"] == 1
    other = service_session(issuer, "events:write", name="App")
    assert post_batch([shared], session=other).json()["stored"] == 1
    assert Interaction.objects.count() == 2


# --- consent --------------------------------------------------------------------------------


def test_an_item_without_consent_is_refused(purposes, post_batch):
    """A customer who granted analytics but not personalization: the page view is stored,
    the purchase (personalization) is refused with reason no_consent, and nothing of it is
    kept."""
    user = UserFactory(email="partial@example.com")
    decide(user, purposes["analytics"])
    results = post_batch([item("page_view", user=user), item("purchase", user=user)]).json()[
        "results"
    ]
    assert results[0]["status"] == "stored"
    assert results[1] == {
        "index": 1,
        "status": "refused",
        "idempotency_key": results[1]["idempotency_key"],
        "reason": "no_consent",
    }
    assert list(Interaction.objects.values_list("type", flat=True)) == ["page_view"]


def test_a_withdrawn_purpose_refuses_new_items(customer, purposes, post_batch):
    """After the customer withdraws analytics, new analytics items are refused; the ledger's
    decision of now counts, not the one at sign-up."""
    assert post_batch([item("page_view", user=customer)]).json()["stored"] == 1
    decide(customer, purposes["analytics"], ConsentAction.WITHDRAWN)
    result = post_batch([item("page_view", user=customer)]).json()["results"][0]
    assert (result["status"], result["reason"]) == ("refused", "no_consent")
    decide(customer, purposes["analytics"], ConsentAction.GRANTED)
    assert post_batch([item("page_view", user=customer)]).json()["stored"] == 1


def test_the_purpose_can_be_named_and_must_be_one_for_interactions(customer, post_batch):
    """An item may name its purpose; a purpose that is not an analytics or personalization
    one (the terms everybody accepted) or does not exist is invalid."""
    results = post_batch(
        [
            item("purchase", user=customer, purpose="analytics"),
            item("purchase", user=customer, purpose="terms"),
            item("purchase", user=customer, purpose="nope"),
        ]
    ).json()["results"]
    assert [r["status"] for r in results] == ["stored", "invalid", "invalid"]
    assert "purpose" in results[1]["errors"]
    assert "purpose" in results[2]["errors"]
    assert Interaction.objects.get().purpose == "analytics"


def test_unknown_or_unverified_customers_are_refused(purposes, post_batch):
    """An address nobody has, an address not verified and an unknown subject: refused with
    reason unknown_user."""
    unverified = UserFactory(email="unverified@example.com", email_verified=False)
    decide(unverified, purposes["analytics"])
    results = post_batch(
        [
            item("page_view", user={"email": "nobody@example.com"}),
            item("page_view", user={"email": unverified.email}),
            item("page_view", user={"sub": "no-such-subject"}),
        ]
    ).json()["results"]
    assert [(r["status"], r.get("reason")) for r in results] == [("refused", "unknown_user")] * 3
    assert not Interaction.objects.exists()


# --- schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "k" * 201}, "idempotency_key"),
        ({"idempotency_key": 12}, "idempotency_key"),
        ({"type": "teleport"}, "type"),
        ({"channel": "pigeon"}, "channel"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-12-01T10:00:00"}, "occurred_at"),  # no offset
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),  # the future
        ({"occurred_at": "2001-01-01T00:00:00Z"}, "occurred_at"),  # past the retention
        ({"user": "ana@example.com"}, "user"),
        ({"user": {"phone": "+5511999999999"}}, "user"),
        ({"user": {"sub": "a", "email": "b@example.com"}}, "user"),
        ({"properties": []}, "properties"),
        (
            {"properties": {"order_id": "A-1", "amount": "1", "currency": "BRL", "x": "y" * 9000}},
            "properties",
        ),
        ({"properties": {"amount": "1", "currency": "BRL"}}, "properties.order_id"),
        ({"properties": {"order_id": "A", "amount": "-1", "currency": "BRL"}}, "properties.amount"),
        (
            {"properties": {"order_id": "A", "amount": "ten", "currency": "BRL"}},
            "properties.amount",
        ),
        ({"properties": {"order_id": "A", "amount": True, "currency": "BRL"}}, "properties.amount"),
        (
            {"properties": {"order_id": "A", "amount": "1", "currency": "XYZ"}},
            "properties.currency",
        ),
        ({"properties": {"order_id": "A", "amount": "1"}}, "properties.currency"),
        ({"color": "blue"}, "color"),
        ({"properties": {"a": [[[[[[[[[[{"b": 1}]]]]]]]]]]}}, "properties"),
    ],
)
def test_a_bad_item_is_invalid_with_its_errors(customer, post_batch, overrides, field):
    """A bad field makes its item invalid, with an error naming the field; the other items
    of the batch are stored."""
    bad = item("purchase", **({"user": customer} | overrides))
    results = post_batch([bad, item("page_view", user=customer)]).json()["results"]
    assert results[0]["status"] == "invalid", results[0]
    assert field in results[0]["errors"], results[0]
    assert results[1]["status"] == "stored"
    assert Interaction.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "properties", "field"),
    [
        ("page_view", {}, "properties.url"),
        ("page_view", {"url": "javascript:alert(1)"}, "properties.url"),
        ("campaign_click", {"campaign": ""}, "properties.campaign"),
    ],
)
def test_each_type_has_its_required_properties(customer, post_batch, kind, properties, field):
    """A page view needs an absolute http(s) url, a campaign click its campaign."""
    result = post_batch([item(kind, user=customer, properties=properties)]).json()["results"][0]
    assert result["status"] == "invalid", result
    assert field in result["errors"], result


def test_amounts_are_kept_as_decimal_strings(customer, post_batch):
    """A numeric amount is stored as its decimal string and the currency upper-cased."""
    properties = {"order_id": "B-2", "amount": 1234.5, "currency": "brl"}
    post_batch([item("purchase", user=customer, properties=properties)])
    stored = Interaction.objects.get().properties
    assert Decimal(stored["amount"]) == Decimal("1234.5")
    assert stored["currency"] == "BRL"


def test_an_item_needs_a_customer_or_a_visitor(customer, post_batch):
    """Neither user nor anonymous_id: invalid; anonymous_id alone: stored as anonymous."""
    results = post_batch([item("page_view"), item("page_view", anonymous_id="visitor-1")]).json()[
        "results"
    ]
    assert results[0]["status"] == "invalid"
    assert "user" in results[0]["errors"]
    assert results[1]["status"] == "stored"
    row = Interaction.objects.get()
    assert row.user is None
    assert row.anonymous_id == "visitor-1"


def test_items_that_are_not_objects_are_invalid(post_batch):
    """Strings, numbers, lists and nulls in the list: each is invalid, never a 500."""
    response = post_batch(["x", 1, [], None])
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["invalid"] * 4


# --- whole-request errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"interactions": {}}',
        b'{"interactions": []}',
        b'{"interactions": "x"}',
        b'{"items": []}',
        b'{"interactions": [], "extra": 1}',
        b"\xff\xfe",
        b"[" * 50000 + b"]" * 50000,
    ],
)
def test_a_malformed_body_is_a_json_400(sender, ingest_url, body):
    """Not JSON, not an object, no list of interactions, invalid UTF-8, deep nesting:
    400 invalid_request in JSON."""
    response = sender.post(
        ingest_url, data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert_json_error(response, 400, "invalid_request")


def test_nan_in_properties_is_invalid(customer, sender, ingest_url):
    """NaN (which Python's parser lets through) makes the item invalid, never a 500."""
    body = json.dumps({"interactions": [item("app_open", user=customer)]}).replace(
        '"properties": {}', '"properties": {"x": NaN}'
    )
    response = sender.post(
        ingest_url, data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "invalid"


def test_a_body_not_sent_as_json_is_a_400(sender, ingest_url):
    """A form-encoded body: 400 invalid_request."""
    response = sender.post(ingest_url, data={"interactions": "x"}, timeout=TIMEOUT)
    assert_json_error(response, 400, "invalid_request")


def test_too_many_items_is_a_400(customer, post_batch):
    """More items than CIAM_INTERACTIONS_MAX_BATCH: 400, nothing stored."""
    with override_settings(CIAM_INTERACTIONS_MAX_BATCH=3):
        response = post_batch([item("page_view", user=customer) for _ in range(4)])
    body = assert_json_error(response, 400, "invalid_request")
    assert "3" in body["error_description"]
    assert not Interaction.objects.exists()


def test_a_huge_body_is_a_413(sender, ingest_url):
    """A body larger than CIAM_INTERACTIONS_MAX_BODY_BYTES: 413 request_too_large."""
    body = json.dumps({"interactions": [{"x": "y" * 1000}] * 3000}).encode()
    response = sender.post(
        ingest_url, data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert_json_error(response, 413, "request_too_large")


def test_a_wrong_method_is_a_405(sender, ingest_url):
    response = sender.get(ingest_url, timeout=TIMEOUT)
    assert_json_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


def test_an_unknown_path_is_a_json_404(sender, ingest_url):
    assert_json_error(sender.get(ingest_url + "nope", timeout=TIMEOUT), 404, "not_found")


# --- tokens ---------------------------------------------------------------------------------


def test_without_a_token_the_answer_is_401_with_the_challenge(ingest_url, customer):
    """No token: 401 with a Bearer challenge (RFC 6750 3.1)."""
    response = requests.post(
        ingest_url, json={"interactions": [item("page_view", user=customer)]}, timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_401_invalid_token(ingest_url):
    response = requests.post(
        ingest_url,
        json={"interactions": []},
        headers={"Authorization": "Bearer nope"},
        timeout=TIMEOUT,
    )
    assert_json_error(response, 401, "invalid_token")


def test_a_token_without_events_write_is_403(issuer, insecure_transport, ingest_url, customer):
    """A token without events:write: 403 insufficient_scope naming the scope."""
    crm = service_session(issuer, "profile:read", name="CRM")
    response = crm.post(
        ingest_url, json={"interactions": [item("page_view", user=customer)]}, timeout=TIMEOUT
    )
    assert_json_error(response, 403, "insufficient_scope")
    assert 'scope="events:write"' in response.headers["WWW-Authenticate"]
    assert not Interaction.objects.exists()


def test_occurred_at_in_a_few_minutes_is_accepted(customer, post_batch):
    """A sender's clock a minute ahead is fine (CIAM_INTERACTIONS_MAX_FUTURE_SECONDS)."""
    result = post_batch([item("page_view", user=customer, occurred_at=occurred(-1))]).json()
    assert result["stored"] == 1
