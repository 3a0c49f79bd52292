"""Retention and erasure of interactions."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from accounts.privacy.services import account_erase
from interactions.models import AnonymousLink, Interaction
from tests.factories import make_client

from .conftest import decide  # noqa: F401


def _client():
    from oauth2_provider.models import get_application_model

    return get_application_model().objects.get(client_id=make_client("service").client_id)


def _row(user, client, days_ago: int, key: str, **fields) -> Interaction:
    return Interaction.objects.create(
        user=user,
        client=client,
        type="page_view",
        channel="web",
        occurred_at=timezone.now() - timedelta(days=days_ago),
        purpose="analytics",
        idempotency_key=key,
        **fields,
    )


def test_prune_deletes_interactions_past_the_retention(customer):
    """``manage.py interactions_prune`` deletes what occurred before the retention period
    and keeps the rest; old links no interaction uses go too."""
    client = _client()
    _row(customer, client, 10, "old")
    _row(customer, client, 1, "new")
    _row(None, client, 10, "old-visitor", anonymous_id="v-old")
    AnonymousLink.objects.create(
        client=client,
        anonymous_id="v-old",
        user=customer,
        linked_at=timezone.now() - timedelta(days=9),
    )
    out = StringIO()
    with override_settings(CIAM_INTERACTIONS_RETENTION_DAYS=5):
        call_command("interactions_prune", stdout=out)
    assert list(Interaction.objects.values_list("idempotency_key", flat=True)) == ["new"]
    assert "Deleted 2 interactions" in out.getvalue()
    assert not AnonymousLink.objects.exists()


def test_erasing_an_account_deletes_its_interactions(customer):
    """Erasure (accounts.privacy) deletes the customer's interactions and visitor links; other
    visitors' rows stay."""
    client = _client()
    _row(customer, client, 1, "mine")
    _row(None, client, 1, "visitor", anonymous_id="v-x")
    AnonymousLink.objects.create(client=client, anonymous_id="v-y", user=customer)
    account_erase(user=customer, actor="test")
    assert list(Interaction.objects.values_list("idempotency_key", flat=True)) == ["visitor"]
    assert not AnonymousLink.objects.exists()
