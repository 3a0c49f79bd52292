"""Review findings of the interactions app: what a machine reader may see of a customer, the
consent of an identified visitor, unstorable text, identify's attribution of outbox events
and disabled customers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from oauth2_provider.models import get_application_model

from consent.models import PurposeKind
from events.models import OutboxEvent
from interactions.models import Interaction
from interactions.selectors import unified_profile
from profiling.models import ProfileField, ProfileValue, ValueSource
from sessions_ctx.models import RiskDecision
from tests.consent.purposes_helpers import make_purpose
from tests.factories import service_session

from .conftest import TIMEOUT, decide, item, link_purposes


def customer_url(issuer: str, user: Any) -> str:
    return f"{issuer}/api/customers/{quote(f'email:{user.email}', safe='')}"


@pytest.fixture
def identify_url(issuer) -> str:
    return issuer + "/api/interactions/identify"


def application_of(session: Any) -> Any:
    return get_application_model().objects.get(client_id=session.client_id)


def test_a_machine_reader_sees_only_its_own_client(
    customer, purposes, post_batch, sender, reader, issuer
):
    """Another client's interactions, the values it collected, the purposes that do not apply
    to the reader and the other client's id (consents, risk decisions) are not in the
    reader's unified profile; its own interactions are."""
    store = application_of(sender)
    post_batch([item("purchase", user=customer, idempotency_key="store-secret-key")])
    post_batch([item("page_view", user=customer, idempotency_key="crm-1")], reader)
    newsletter = make_purpose("newsletter", kind=PurposeKind.MARKETING_EMAIL)
    decide(customer, newsletter)
    field = ProfileField.objects.create(key="shoe_size", type="text", label_en="Shoe size")
    ProfileValue.objects.create(
        user=customer, field=field, value="42", source=ValueSource.API, client=store
    )
    RiskDecision.objects.create(
        user=customer, client_id=store.client_id, trigger="sign_in", action="allow"
    )
    response = reader.get(customer_url(issuer, customer), timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body = response.json()
    timeline = body["interactions"]
    assert [i["idempotency_key"] for i in timeline["items"]] == ["crm-1"]
    assert timeline["summary"]["total"] == 1
    assert timeline["summary"]["purchases"]["count"] == 0
    assert "shoe_size" not in body["profile"]["fields"]
    assert "newsletter" not in body["consents"]
    assert set(body["consents"]) <= {"analytics", "personalization", "terms"}
    assert [d["client"] for d in body["activity"]["risk_decisions"]] == [None]
    text = response.text
    assert store.client_id not in text
    assert "store-secret-key" not in text
    assert '"Store"' not in text


def test_purposes_not_linked_to_the_reader_hide_its_own_interactions(customer, purposes, issuer):
    """A reader that offers only personalization does not see the analytics items it sent,
    although the customer grants analytics."""
    session = service_session(issuer, "profile:read events:write", name="Till")
    link_purposes(session, purposes["personalization"])
    session.post(
        issuer + "/api/interactions/",
        json={"interactions": [item("page_view", user=customer), item("purchase", user=customer)]},
        timeout=TIMEOUT,
    )
    body = session.get(customer_url(issuer, customer), timeout=TIMEOUT).json()
    assert [i["type"] for i in body["interactions"]["items"]] == ["purchase"]


@pytest.mark.parametrize(
    ("claim", "scope"), [("phone_number", "phone"), ("email", "email"), ("address", "address")]
)
def test_profile_fields_need_their_oidc_scope(customer, purposes, issuer, claim, scope):
    """A field feeding a standard email/phone/address claim is released only to a token that
    holds that scope too; profile fields need profile:read only."""
    field = ProfileField.objects.create(
        key=f"contact_{scope}", type="text", label_en="Contact", claim=claim
    )
    ProfileValue.objects.create(user=customer, field=field, value="x", source=ValueSource.ADMIN)
    plain = service_session(issuer, "profile:read", name="Plain")
    fields = plain.get(customer_url(issuer, customer), timeout=TIMEOUT).json()["profile"]["fields"]
    assert field.key not in fields
    assert "given_name" in fields
    # A machine client cannot be granted OIDC scopes (client_credentials); the selector
    # releases the field to a token holding the scope.
    document = unified_profile(
        user=customer,
        application=application_of(plain),
        scopes={"profile:read", scope},
    )
    assert document["profile"]["fields"][field.key]["value"] == "x"


@pytest.mark.parametrize(
    "overrides",
    [
        {"properties": {"url": "https://shop.example.test/p/1", "note": "a\ud800b"}},
        {"properties": {"url": "https://shop.example.test/p/1", "k\ud800": 1}},
        {"properties": {"url": "https://shop.example.test/p/1", "deep": [{"x": ["\x00"]}]}},
        {"properties": {"url": "https://shop.example.test/p/1", "nul\x00key": 1}},
        {"properties": {"url": "https://shop.example.test/\ud800"}},
        {"idempotency_key": "key-\ud800"},
        {"idempotency_key": "key-\x00"},
        {"channel": "web\ud800"},
        {"purpose": "analytics\x00"},
        {"anonymous_id": "v\ud800"},
        {"anonymous_id": "v\x00"},
        {"who": {"email": "ana\ud800@example.com"}},
        {"extra\ud800": 1},
    ],
)
def test_unstorable_text_makes_the_item_invalid(customer, post_batch, overrides):
    """A lone surrogate or a NUL anywhere in an item (keys or values, nested) makes it
    ``invalid`` with an error; the other items of the batch are stored; nothing of the bad
    item reaches the database (no 500)."""
    overrides = dict(overrides)
    who = overrides.pop("who", customer)
    bad = item("page_view", user=None if "anonymous_id" in overrides else who, **overrides)
    good = item("page_view", user=customer)
    response = post_batch([bad, good])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["results"][0]["status"] == "invalid", body
    assert body["results"][0]["errors"]
    assert body["results"][1]["status"] == "stored"
    assert list(Interaction.objects.values_list("idempotency_key", flat=True)) == [
        good["idempotency_key"]
    ]


@pytest.mark.parametrize("anonymous_id", ["v\ud800", "v\x00"])
def test_identify_refuses_unstorable_visitor_ids(customer, sender, identify_url, anonymous_id):
    response = sender.post(
        identify_url,
        json={"anonymous_id": anonymous_id, "user": {"email": customer.email}},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_identify_attributes_the_linked_events_to_the_customer(
    customer, post_batch, sender, identify_url
):
    """Linking a visitor's interactions gives their outbox events the customer (so erasure
    forgets them); the client-chosen idempotency key is tagged with the purpose."""
    post_batch([item("page_view", anonymous_id="v-ev", idempotency_key="visitor-key")])
    row = Interaction.objects.get()
    assert row.event is not None
    assert row.event.user is None
    assert row.event.data["idempotency_key"]["_tag"] == {"purpose": "analytics"}
    sender.post(
        identify_url,
        json={"anonymous_id": "v-ev", "user": {"email": customer.email}},
        timeout=TIMEOUT,
    )
    event = OutboxEvent.objects.get(pk=row.event.pk)
    assert event.user == customer
    assert event.subject == str(customer.public_id)


def test_a_disabled_customer_is_unknown(customer, post_batch, sender, identify_url):
    """Items about a disabled customer, by email or through a visitor id linked to them, are
    refused ``unknown_user``; identify answers 404."""
    sender.post(
        identify_url,
        json={"anonymous_id": "v-off", "user": {"email": customer.email}},
        timeout=TIMEOUT,
    )
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    body = post_batch(
        [item("page_view", user=customer), item("page_view", anonymous_id="v-off")]
    ).json()
    assert [r.get("reason") for r in body["results"]] == ["unknown_user", "unknown_user"]
    assert not Interaction.objects.exists()
    response = sender.post(
        identify_url,
        json={"anonymous_id": "v-new", "user": {"email": customer.email}},
        timeout=TIMEOUT,
    )
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_user"


def test_an_inactive_user_is_refused_by_the_identify_service(customer, sender):
    """The service itself refuses a disabled customer (whoever calls it)."""
    from interactions.services.ingest import IngestError, anonymous_id_identify

    customer.is_active = False
    with pytest.raises(IngestError) as raised:
        anonymous_id_identify(client=application_of(sender), anonymous_id="v", user=customer)
    assert raised.value.status == 404
