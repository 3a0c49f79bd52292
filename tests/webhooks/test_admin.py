"""The operators' pages of endpoints and deliveries."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from oauth2_provider.models import get_application_model
from standardwebhooks.webhooks import Webhook

from console.delegation import delegation_grant
from tests.factories import UserFactory, make_client
from webhooks.models import Delivery, Endpoint

from .conftest import endpoint_create, run_worker, sign_in_emit

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks/endpoint/"
DELIVERIES = "/admin/webhooks/delivery/"


@pytest.fixture
def operator_client(client):
    operator = get_user_model().objects.create_superuser(
        email="hooks-operator@example.com", password="operator-password-1"
    )
    client.force_login(operator)
    return client


def _messages(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def test_adding_an_endpoint_shows_its_secret_once(operator_client, receiver, customer):
    """The secret is generated on create and shown once in a message; the change page and
    the list never show it; deliveries sign with it."""
    from consent.models import Purpose, PurposeKind

    Purpose.objects.create(key="marketing", kind=PurposeKind.MARKETING_EMAIL)
    page = operator_client.get(ENDPOINTS + "add/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="user.signed_in"' in html
    assert 'value="user.*"' in html
    assert 'value="marketing"' in html
    assert 'value="email"' in html
    response = operator_client.post(
        ENDPOINTS + "add/",
        {
            "name": "CRM",
            "kind": "webhook",
            "url": receiver.url,
            "event_types": ["user.signed_in"],
            "purposes": ["marketing"],
            "scopes": ["email"],
        },
        follow=True,
    )
    assert response.status_code == 200
    secret = re.search(r"Signing secret for CRM: (whsec_\S+)\.", _messages(response)).group(1)
    endpoint = Endpoint.objects.get()
    assert endpoint.secret == secret
    assert (endpoint.purposes, endpoint.scopes) == (["marketing"], ["email"])
    assert secret not in operator_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert secret not in operator_client.get(ENDPOINTS).content.decode()
    sign_in_emit(customer)
    run_worker()
    (got,) = receiver.received
    Webhook(secret).verify(got.body, got.headers)


def test_secrets_cannot_be_filtered(operator_client, make_endpoint, receiver):
    """A changelist filter on a secret field is refused, never a filtered list."""
    make_endpoint(receiver.url)
    for lookup in ("secret__startswith=whsec_", "previous_secret=x", "authorization=x"):
        response = operator_client.get(f"{ENDPOINTS}?{lookup}")
        assert response.status_code in (302, 400), lookup
        assert b"CRM" not in response.content


def test_rotate_secret_from_the_admin(operator_client, make_endpoint, receiver, settings):
    """ "Rotate secret" shows the grace period, then the new secret once; the old one still
    signs until the grace period ends."""
    settings.CIAM_WEBHOOKS_SECRET_GRACE_HOURS = 2
    endpoint = make_endpoint(receiver.url)
    old = endpoint.secret
    url = f"{ENDPOINTS}{endpoint.pk}/rotate-secret/"
    confirm = operator_client.get(url)
    assert confirm.status_code == 200
    assert "2 hours" in confirm.content.decode()
    response = operator_client.post(url, follow=True)
    new = re.search(r"New signing secret for CRM: (whsec_\S+)\.", _messages(response)).group(1)
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (new, old)
    assert endpoint.previous_secret_expires_at is not None


def test_a_disabled_endpoint_shows_why_and_can_be_enabled(
    operator_client, make_endpoint, receiver, customer
):
    """After a 410 the endpoint's page says why; "Enable again" sends what waited."""
    endpoint = make_endpoint(receiver.url)
    receiver.statuses = [410]
    sign_in_emit(customer)
    run_worker()
    page = operator_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert "410 Gone" in page
    url = f"{ENDPOINTS}{endpoint.pk}/enable/"
    assert "410 Gone" in operator_client.get(url).content.decode()
    response = operator_client.post(url, follow=True)
    assert "enabled again" in _messages(response)
    run_worker()
    assert Delivery.objects.get().status == "succeeded"


def test_deliveries_list_attempts_and_actions(operator_client, make_endpoint, receiver, customer):
    """The deliveries list filters by status; a delivery's page lists its attempts (code,
    error); Replay sends it again, Cancel stops a pending one."""
    make_endpoint(receiver.url)
    receiver.statuses = [500]
    event = sign_in_emit(customer)
    run_worker()
    delivery = Delivery.objects.get()
    listing = operator_client.get(DELIVERIES + "?status=pending")
    assert listing.status_code == 200
    assert f"/admin/webhooks/delivery/{delivery.pk}/change/" in listing.content.decode()
    failed = operator_client.get(DELIVERIES + "?status=failed").content.decode()
    assert f"/admin/webhooks/delivery/{delivery.pk}/change/" not in failed
    page = operator_client.get(f"{DELIVERIES}{delivery.pk}/change/").content.decode()
    assert "500" in page
    assert "HTTP 500" in page
    response = operator_client.post(
        DELIVERIES, {"action": "cancel", "_selected_action": [delivery.pk]}, follow=True
    )
    assert "1 delivery cancelled" in _messages(response)
    delivery.refresh_from_db()
    assert delivery.status == "cancelled"
    response = operator_client.post(
        DELIVERIES, {"action": "replay", "_selected_action": [delivery.pk]}, follow=True
    )
    assert "sent again now" in _messages(response)
    run_worker()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert receiver.ids() == [str(event.event_id)] * 2


def test_delegated_operator_sees_only_their_clients_endpoints(client, receiver):
    """A delegated operator sees the endpoints (and deliveries) of the clients they
    administer, never another's, cannot add one, and cannot widen its purposes or scopes."""
    Application = get_application_model()
    own = Application.objects.get(pk=make_client("service", name="Shop").application_id)
    other = Application.objects.get(pk=make_client("service", name="Bank").application_id)
    superuser = get_user_model().objects.create_superuser(
        email="root-hooks@example.com", password="operator-password-1"
    )
    operator = UserFactory(email="hooks-delegate@example.com", is_staff=True)
    delegation_grant(operator=operator, client=own, granted_by=superuser)
    mine = endpoint_create(receiver.url, name="Shop CRM", application=own)
    theirs = endpoint_create(receiver.url, name="Bank CRM", application=other)
    client.force_login(get_user_model().objects.get(pk=operator.pk))
    listing = client.get(ENDPOINTS).content.decode()
    assert "Shop CRM" in listing
    assert "Bank CRM" not in listing
    page = client.get(f"{ENDPOINTS}{mine.pk}/change/")
    assert page.status_code == 200
    assert 'name="scopes"' not in page.content.decode()  # read-only for them
    assert client.get(f"{ENDPOINTS}{theirs.pk}/change/").status_code in (302, 404)
    assert client.get(ENDPOINTS + "add/").status_code == 403
