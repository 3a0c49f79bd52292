"""Operators read streams, their subjects and their own SETs in admin, and change a
stream's status there (the receiver is then owed a stream-updated SET)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import UserFactory, make_client

HOST = {"HTTP_HOST": "localhost"}


@pytest.fixture
def operator_client(client, db):
    operator = get_user_model().objects.create_superuser(
        email="operator@example.com", password="operator-password-1"
    )
    client.force_login(operator)
    return client


@pytest.fixture
def stream(db):
    from oauth2_provider.models import get_application_model

    from ssf.models import SsfSubject
    from ssf.services.streams import stream_create

    registered = make_client("web", name="Partner Shop", redirect_uris=["https://rp.test/cb"])
    application = get_application_model().objects.get(client_id=registered.client_id)
    created = stream_create(
        application=application,
        payload={
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "http://127.0.0.1:9/e"},
            "events_requested": [
                "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
            ],
        },
    )
    SsfSubject.objects.create(stream=created, subject="sub-1", user=UserFactory(), added=False)
    return created


def test_admin_pages_render(operator_client, stream):
    """The streams list (filters, search), a stream's page with its subjects, the subjects
    and the stream events lists render; streams cannot be added from admin."""
    for url in (
        "/admin/ssf/ssfstream/",
        "/admin/ssf/ssfstream/?status__exact=enabled",
        f"/admin/ssf/ssfstream/?q={stream.stream_id}",
        f"/admin/ssf/ssfstream/{stream.pk}/change/",
        "/admin/ssf/ssfsubject/",
        "/admin/ssf/ssfcontrolevent/",
    ):
        response = operator_client.get(url, **HOST)
        assert response.status_code == 200, url
    assert operator_client.get("/admin/ssf/ssfstream/add/", **HOST).status_code == 403


def test_pause_action_pauses_and_announces(operator_client, stream):
    """The Pause action pauses the stream, stops its endpoint and owes the receiver a
    stream-updated SET with the new status."""
    from ssf.models import SsfControlEvent

    response = operator_client.post(
        "/admin/ssf/ssfstream/",
        {"action": "stream_paused", "_selected_action": [stream.pk]},
        **HOST,
    )
    assert response.status_code == 302
    stream.refresh_from_db()
    stream.endpoint.refresh_from_db()
    assert stream.status == "paused"
    assert not stream.endpoint.active
    control = SsfControlEvent.objects.get(stream=stream)
    assert control.kind == "stream-updated"
    assert control.payload["status"] == "paused"
