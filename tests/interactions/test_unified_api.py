"""GET /api/customers/<ref>: the unified profile for back ends (profile:read), filtered by the
token's scopes and the customer's consents of now."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from consent.models import ConsentAction
from profiling.models import ProfileField, ValueSource
from profiling.schema import schema_forget
from profiling.services.values import profile_update
from sessions_ctx.models import BrowserSession
from tests.factories import service_session

from .conftest import TIMEOUT, decide, item, occurred


def customer_url(issuer: str, user, kind: str = "email") -> str:
    value = user.email if kind == "email" else user.public_id
    return f"{issuer}/api/customers/{quote(f'{kind}:{value}', safe='')}"


def test_the_unified_profile_gathers_every_section(customer, post_batch, reader, issuer):
    """Profile values with provenance, consents, activity and the interaction timeline
    (newest first) with the purchase totals, of what the reader sent itself."""
    post_batch(
        [
            item("purchase", user=customer, occurred_at=occurred(30)),
            item("page_view", user=customer, occurred_at=occurred(5)),
            item(
                "purchase",
                user=customer,
                occurred_at=occurred(1),
                properties={"order_id": "A-2", "amount": 10, "currency": "BRL"},
            ),
        ],
        session=reader,
    )
    response = reader.get(customer_url(issuer, customer), timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sub"] == customer.public_id
    assert body["profile"]["fields"]["given_name"]["value"] == "Ana"
    assert body["profile"]["fields"]["given_name"]["provenance"]
    assert body["consents"]["analytics"]["granted"] is True
    assert "sessions" in body["activity"]
    assert "sign_ins" in body["activity"]
    timeline = body["interactions"]
    assert [i["type"] for i in timeline["items"]] == ["purchase", "page_view", "purchase"]
    assert timeline["summary"]["purchases"] == {"count": 2, "totals": {"BRL": "29.90"}}
    assert timeline["summary"]["total"] == 3
    assert "hidden" not in timeline


def test_a_customer_is_found_by_subject(customer, reader, issuer):
    response = reader.get(customer_url(issuer, customer, "sub"), timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json()["sub"] == customer.public_id
    assert response.json()["active"] is True


def test_a_disabled_customer_is_found_and_marked_inactive(customer, reader, issuer):
    """An operator disabled the account: the profile is still there for the back ends that
    keep its history, with ``active`` false."""
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    response = reader.get(customer_url(issuer, customer), timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False


def test_withdrawn_purposes_hide_their_interactions(customer, purposes, post_batch, reader, issuer):
    """After the customer withdraws personalization, the purchases filed under it leave the
    timeline and the totals; analytics items stay."""
    post_batch([item("purchase", user=customer), item("page_view", user=customer)], reader)
    decide(customer, purposes["personalization"], ConsentAction.WITHDRAWN)
    body = reader.get(customer_url(issuer, customer), timeout=TIMEOUT).json()
    assert [i["type"] for i in body["interactions"]["items"]] == ["page_view"]
    assert body["interactions"]["summary"]["purchases"]["count"] == 0


def test_profile_fields_under_a_withheld_purpose_are_left_out(customer, purposes, reader, issuer):
    """A profile field whose purpose the customer did not grant is not in the profile."""
    field = ProfileField.objects.create(
        key="favourite_team",
        type="text",
        label_en="Favourite team",
        purpose=purposes["personalization"],
    )
    schema_forget()
    profile_update(user=customer, changes={field.key: "Santos"}, source=ValueSource.ADMIN)
    body = reader.get(customer_url(issuer, customer), timeout=TIMEOUT).json()
    assert body["profile"]["fields"]["favourite_team"]["value"] == "Santos"
    decide(customer, purposes["personalization"], ConsentAction.WITHDRAWN)
    body = reader.get(customer_url(issuer, customer), timeout=TIMEOUT).json()
    assert "favourite_team" not in body["profile"]["fields"]


def test_sections_follow_the_token_scopes(customer, issuer, insecure_transport):
    """Without consent:read the consents are left out; machine readers never see IP
    addresses."""
    BrowserSession.objects.create(
        user=customer,
        sid="s1",
        last_seen_at=customer.date_joined,
        auth_time=customer.date_joined,
        expires_at=customer.date_joined,
        ip="203.0.113.9",
    )
    crm = service_session(issuer, "profile:read", name="Marketing")
    body = crm.get(customer_url(issuer, customer), timeout=TIMEOUT).json()
    assert "consents" not in body
    assert body["activity"]["sessions"]
    assert "ip" not in body["activity"]["sessions"][0]
    assert "203.0.113.9" not in str(body)


def test_the_timeline_is_paged_newest_first(customer, post_batch, reader, issuer):
    """``limit`` and ``next_cursor`` walk the timeline without gaps or repeats."""
    items = [item("app_open", user=customer, occurred_at=occurred(m)) for m in range(1, 8)]
    post_batch(items, reader)
    seen: list[str] = []
    url = customer_url(issuer, customer) + "?limit=3"
    cursor = None
    for _ in range(5):
        page = reader.get(url + (f"&cursor={cursor}" if cursor else ""), timeout=TIMEOUT).json()
        seen += [i["idempotency_key"] for i in page["interactions"]["items"]]
        cursor = page["interactions"]["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["idempotency_key"] for i in items]


@pytest.mark.parametrize(
    "query", ["?limit=0", "?limit=abc", "?limit=100000", "?cursor=x.y", "?cursor=1"]
)
def test_bad_paging_parameters_are_a_400(customer, reader, issuer, query):
    response = reader.get(customer_url(issuer, customer) + query, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_reading_needs_profile_read(customer, sender, issuer):
    """A token with events:write only: 403 insufficient_scope; no token: 401."""
    response = sender.get(customer_url(issuer, customer), timeout=TIMEOUT)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert requests.get(customer_url(issuer, customer), timeout=TIMEOUT).status_code == 401


@pytest.mark.parametrize("reference", ["email:nobody@example.com", "sub:nope", "ana", "phone:1"])
def test_unknown_or_malformed_references(db, reader, issuer, reference):
    response = reader.get(f"{issuer}/api/customers/{quote(reference, safe='')}", timeout=TIMEOUT)
    assert response.status_code in (400, 404)
    assert response.json()["error"] in ("invalid_request", "unknown_user")
