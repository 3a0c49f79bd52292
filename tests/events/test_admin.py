"""The outbox in the admin: a read-only list filtered by type and time, searched by
subject, and a detail page with the CloudEvents envelope."""

from __future__ import annotations

import pytest

from events.models import OutboxEvent
from events.services.outbox import event_emit

pytestmark = pytest.mark.django_db

URL = "/admin/events/outboxevent/"


def test_list_filters_search_and_detail(operator_client, customer):
    """Filter by type, search by subject; the detail shows the envelope JSON."""
    signed_in = event_emit(type="user.signed_in", user=customer, data={"method": "password"})
    disabled = event_emit(type="user.disabled", user=customer)
    page = operator_client.get(URL, {"type": "user.signed_in"})
    assert page.status_code == 200
    assert str(signed_in.event_id).encode() in page.content
    assert str(disabled.event_id).encode() not in page.content
    found = operator_client.get(URL, {"q": customer.public_id})
    assert found.status_code == 200
    assert str(signed_in.event_id).encode() in found.content
    ranged = operator_client.get(URL, {"time_from_0": "2000-01-01", "time_to_0": "2999-01-01"})
    assert ranged.status_code == 200
    assert str(signed_in.event_id).encode() in ranged.content
    detail = operator_client.get(f"{URL}{signed_in.pk}/change/")
    assert detail.status_code == 200
    assert b"com.ciam.user.signed_in.v1" in detail.content
    assert b"specversion" in detail.content


def test_nobody_adds_changes_or_deletes(operator_client, customer):
    """Superusers included: no add page, no delete, the change form saves nothing."""
    event = event_emit(type="user.enabled", user=customer)
    assert operator_client.get(f"{URL}add/").status_code == 403
    assert operator_client.post(f"{URL}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    operator_client.post(f"{URL}{event.pk}/change/", {"type": "user.deleted"})
    event.refresh_from_db()
    assert event.type == "user.enabled"
    assert OutboxEvent.objects.filter(pk=event.pk).exists()
