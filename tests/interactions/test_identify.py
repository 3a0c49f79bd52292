"""POST /api/interactions/identify: a client's visitor turns out to be a customer; their
anonymous activity is linked when the customer consented to its purpose."""

from __future__ import annotations

import pytest

from events.models import OutboxEvent
from interactions.models import AnonymousLink, Interaction
from tests.factories import UserFactory, service_session

from .conftest import TIMEOUT, decide, item


@pytest.fixture
def identify_url(issuer) -> str:
    return issuer + "/api/interactions/identify"


def test_identify_links_the_consented_anonymous_activity(
    purposes, post_batch, sender, identify_url
):
    """The visitor's page views (analytics, granted) are linked to the customer; their
    support contact (personalization, not granted) stays anonymous; calling again changes
    nothing."""
    user = UserFactory(email="visitor@example.com")
    decide(user, purposes["analytics"])
    post_batch(
        [
            item("page_view", anonymous_id="v-1"),
            item("page_view", anonymous_id="v-1"),
            item("support_contact", anonymous_id="v-1"),
            item("page_view", anonymous_id="v-2"),
        ]
    )
    body = {"anonymous_id": "v-1", "user": {"email": user.email}}
    response = sender.post(identify_url, json=body, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "anonymous_id": "v-1",
        "linked": 2,
        "kept_anonymous": 1,
        "new_link": True,
    }
    assert Interaction.objects.filter(user=user).count() == 2
    assert Interaction.objects.filter(user=None).count() == 2
    assert all(row.linked_at for row in Interaction.objects.filter(user=user))
    again = sender.post(identify_url, json=body, timeout=TIMEOUT).json()
    assert (again["linked"], again["kept_anonymous"], again["new_link"]) == (0, 1, False)
    assert AnonymousLink.objects.filter(user=user).count() == 1
    assert AnonymousLink.objects.filter(anonymous_id="v-1").count() == 1


def test_later_anonymous_items_attach_to_the_customer(customer, post_batch, sender, identify_url):
    """After identify, items sent under the visitor id are the customer's directly."""
    sender.post(
        identify_url,
        json={"anonymous_id": "v-9", "user": {"sub": customer.public_id}},
        timeout=TIMEOUT,
    )
    assert post_batch([item("app_open", anonymous_id="v-9")]).json()["stored"] == 1
    row = Interaction.objects.get()
    assert row.user == customer
    assert row.anonymous_id == "v-9"
    assert row.linked_at


def test_later_items_without_consent_are_refused(purposes, post_batch, sender, identify_url):
    """A linked visitor's item under a purpose the customer does not grant is refused
    ``no_consent`` and nothing of it is kept (not even as the visitor's: the id names the
    customer now), like the same item sent with the customer's email."""
    user = UserFactory(email="half@example.com")
    decide(user, purposes["analytics"])
    sender.post(
        identify_url, json={"anonymous_id": "v-3", "user": {"email": user.email}}, timeout=TIMEOUT
    )
    body = post_batch([item("purchase", anonymous_id="v-3")]).json()
    assert body["refused"] == 1
    assert body["results"][0]["reason"] == "no_consent"
    assert not Interaction.objects.exists()
    assert not OutboxEvent.objects.filter(type="interaction.recorded").exists()


def test_a_visitor_id_cannot_be_moved_to_another_customer(customer, purposes, sender, identify_url):
    """An id linked to one customer cannot be linked to another: 409 conflict."""
    other = UserFactory(email="other@example.com")
    first = {"anonymous_id": "v-4", "user": {"email": customer.email}}
    assert sender.post(identify_url, json=first, timeout=TIMEOUT).status_code == 200
    second = {"anonymous_id": "v-4", "user": {"email": other.email}}
    response = sender.post(identify_url, json=second, timeout=TIMEOUT)
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_visitor_ids_belong_to_their_client(customer, issuer, post_batch, sender, identify_url):
    """Another client's visitor with the same id is not linked."""
    other = service_session(issuer, "events:write", name="Other")
    post_batch([item("page_view", anonymous_id="v-5")], session=other)
    sender.post(
        identify_url,
        json={"anonymous_id": "v-5", "user": {"email": customer.email}},
        timeout=TIMEOUT,
    )
    assert Interaction.objects.get().user is None


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"anonymous_id": "v", "user": {"email": "nobody@example.com"}}, 404, "unknown_user"),
        ({"anonymous_id": "", "user": {"email": "a@example.com"}}, 400, "invalid_request"),
        ({"anonymous_id": "v"}, 400, "invalid_request"),
        ({"anonymous_id": "v", "user": "a@example.com"}, 400, "invalid_request"),
        ([], 400, "invalid_request"),
        ({"anonymous_id": 5, "user": {"sub": "x"}}, 400, "invalid_request"),
    ],
)
def test_a_bad_identify_call_is_a_json_error(db, sender, identify_url, body, status, error):
    response = sender.post(identify_url, json=body, timeout=TIMEOUT)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
