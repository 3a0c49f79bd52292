"""The "Unified view" page of a customer in the operators' console: for staff with the view
permission on users; a delegated operator sees only their own customers and only their
clients' interactions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from oauth2_provider.models import get_application_model

from interactions.models import Interaction
from tests.console.conftest import Delegation
from tests.factories import UserFactory

from .conftest import decide

HOST = {"HTTP_HOST": "localhost"}


def unified_url(user: Any) -> str:
    return f"/admin/accounts/user/{user.pk}/unified-view/"


def stored(user: Any, client: Any, kind: str = "page_view", **fields: Any) -> Interaction:
    defaults = {
        "type": kind,
        "channel": "web",
        "occurred_at": timezone.now(),
        "purpose": "analytics",
        "idempotency_key": f"{client.pk}-{Interaction.objects.count()}",
        "properties": {"url": "https://shop.example.test/"},
    }
    defaults.update(fields)
    return Interaction.objects.create(user=user, client=client, **defaults)


@pytest.fixture
def superuser(db) -> Any:
    return get_user_model().objects.create_superuser(
        email="root@example.com", password="operator-password-1"
    )


@pytest.fixture
def shop(db) -> Any:
    from tests.factories import make_client

    registered = make_client("service", name="Store")
    return get_application_model().objects.get(client_id=registered.client_id)


def test_the_customer_page_has_the_unified_view_button(client, superuser, customer):
    """The customer's admin page links to the unified view."""
    client.force_login(superuser)
    response = client.get(f"/admin/accounts/user/{customer.pk}/change/", **HOST)
    assert response.status_code == 200
    assert unified_url(customer) in response.content.decode()


def test_the_unified_view_shows_every_section(client, superuser, customer, shop):
    """Profile, consents, sign-ins, sessions and the timeline, with the purchase totals; an
    interaction under a purpose the customer no longer grants is counted as hidden."""
    stored(
        customer,
        shop,
        "purchase",
        purpose="personalization",
        channel="store",
        properties={"order_id": "A-1", "amount": "19.90", "currency": "BRL"},
    )
    stored(customer, shop, "page_view")
    stored(
        customer, shop, "campaign_click", purpose="partner_sharing", properties={"campaign": "x"}
    )
    client.force_login(superuser)
    response = client.get(unified_url(customer), **HOST)
    assert response.status_code == 200
    page = response.content.decode()
    for section in (
        "unified-profile",
        "unified-consents",
        "unified-sign-ins",
        "unified-sessions",
        "unified-timeline",
    ):
        assert f'id="{section}"' in page, section
    assert 'data-interaction="purchase"' in page
    assert 'data-interaction="page_view"' in page
    assert 'data-interaction="campaign_click"' not in page
    assert 'data-hidden="1"' in page
    assert "BRL 19.90" in page
    assert customer.public_id in page


def test_staff_need_the_view_permission_on_users(client, customer):
    """Staff without permissions: 403; with view_user: 200."""
    operator = UserFactory(email="staff@example.com", is_staff=True)
    client.force_login(operator)
    assert client.get(unified_url(customer), **HOST).status_code == 403
    operator.user_permissions.add(Permission.objects.get(codename="view_user"))
    operator = get_user_model().objects.get(pk=operator.pk)
    client.force_login(operator)
    assert client.get(unified_url(customer), **HOST).status_code == 200


def test_a_delegated_operator_sees_only_their_customers_and_clients(
    client,
    delegation: Delegation,
    purposes,
):
    """A delegated operator opens the unified view of their client's customer, with only
    that client's interactions and no sessions; a foreign customer is a 404."""
    mine = delegation.own_customers[0]
    decide(mine, purposes["analytics"])
    stored(mine, delegation.own, "page_view", idempotency_key="own")
    stored(
        mine, delegation.other, "app_open", channel="app", idempotency_key="other", properties={}
    )
    client.force_login(delegation.operator)
    response = client.get(unified_url(mine), **HOST)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-interaction="page_view"' in page
    assert 'data-interaction="app_open"' not in page
    assert 'id="unified-sessions"' not in page
    foreign = client.get(unified_url(delegation.other_customer), **HOST)
    assert foreign.status_code in (403, 404)


def test_the_unified_view_pages_the_timeline(client, superuser, customer, shop):
    """More interactions than a page: a link to the older ones, which lists the rest."""
    for minutes in range(5):
        stored(customer, shop, occurred_at=timezone.now() - timezone.timedelta(minutes=minutes))
    client.force_login(superuser)
    first = client.get(unified_url(customer) + "?limit=3", **HOST).content.decode()
    assert first.count('data-interaction="page_view"') == 3
    assert "data-older" in first
    assert client.get(unified_url(customer) + "?cursor=bad", **HOST).status_code == 404
