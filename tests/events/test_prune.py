"""Retention: ``manage.py events_prune`` deletes events past CIAM_EVENTS_RETENTION_DAYS once
nobody is still owed them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from events.models import OutboxEvent, StreamCursor
from events.services.outbox import event_emit
from events.services.retention import events_prune

pytestmark = pytest.mark.django_db


def aged(event: OutboxEvent, days: int) -> OutboxEvent:
    then = timezone.now() - timedelta(days=days)
    OutboxEvent.objects.filter(pk=event.pk).update(time=then, created_at=then)
    return event


def kept(*events: OutboxEvent) -> list[int]:
    """Which of ``events`` are still there (the customer's creation wrote its own)."""
    pks = [event.pk for event in events]
    return list(OutboxEvent.objects.filter(pk__in=pks).order_by("pk").values_list("pk", flat=True))


def test_old_events_go_recent_ones_stay(customer, capsys):
    """Older than the retention: deleted; younger: kept."""
    old = aged(event_emit(type="user.enabled", user=customer), 40)
    recent = aged(event_emit(type="user.enabled", user=customer), 5)
    call_command("events_prune")
    assert "1 events deleted" in capsys.readouterr().out
    assert kept(old, recent) == [recent.pk]
    assert not OutboxEvent.objects.filter(pk=old.pk).exists()


@override_settings(CIAM_EVENTS_RETENTION_DAYS=3)
def test_the_retention_is_a_setting(customer):
    """CIAM_EVENTS_RETENTION_DAYS=3: an event of 5 days goes."""
    aged(event_emit(type="user.enabled", user=customer), 5)
    assert events_prune() == 1


@pytest.mark.skipif(not apps.is_installed("webhooks"), reason="webhooks app not installed")
def test_an_event_still_owed_to_a_receiver_stays(customer):
    """A pending delivery keeps its old event; finished deliveries do not."""
    from webhooks.models import Delivery, Endpoint

    endpoint = Endpoint.objects.create(name="CRM", url="https://crm.example/hook", event_types=[])
    owed = aged(event_emit(type="user.enabled", user=customer), 40)
    done = aged(event_emit(type="user.disabled", user=customer), 40)
    Delivery.objects.create(endpoint=endpoint, event=owed, status="pending")
    Delivery.objects.create(endpoint=endpoint, event=done, status="succeeded")
    assert events_prune() == 1
    assert kept(owed, done) == [owed.pk]


def test_an_event_the_stream_has_not_published_stays(customer):
    """With the stream sink configured, events after its cursor are kept."""
    published = aged(event_emit(type="user.enabled", user=customer), 40)
    unpublished = aged(event_emit(type="user.disabled", user=customer), 40)
    StreamCursor.objects.create(name="redis-stream", last_event_id=published.pk)
    with override_settings(CIAM_EVENTS_STREAM_URL="redis://127.0.0.1:1/0"):
        assert events_prune() == 1
    assert kept(published, unpublished) == [unpublished.pk]
