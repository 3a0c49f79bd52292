"""The envelope each receiver gets: CloudEvents 1.0 attributes, and data projected by the
receiver's scopes and purposes and by the customer's consent at the time of sending."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from events.models import OutboxEvent
from events.selectors import event_data_project, event_envelope
from events.services.outbox import event_emit
from events.tags import requires, tagged, without_tagged
from tests.factories import make_client

from .conftest import grant, withdraw

pytestmark = pytest.mark.django_db

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def profile_event(user, purpose_key: str = "marketing") -> OutboxEvent:
    return event_emit(
        type="user.updated",
        user=user,
        data={
            "changed": ["email", "given_name", "home_style"],
            "fields": {
                "email": tagged("ana@example.com", scope="email"),
                "given_name": tagged("Ana", scope="profile"),
                "home_style": tagged("rustic", scope="profile", purpose=purpose_key),
            },
            "source": "account",
        },
    )


def test_envelope_has_the_cloudevents_attributes(customer):
    """specversion 1.0, id (the event's UUID), source (issuer + /events), versioned type,
    RFC 3339 time in UTC, subject (public), datacontenttype and data."""
    event = event_emit(type="user.signed_in", user=customer, data={"method": "password"})
    envelope = event_envelope(event)
    assert envelope is not None
    assert envelope["specversion"] == "1.0"
    assert envelope["id"] == str(event.event_id)
    assert envelope["source"] == settings.CIAM_ISSUER.rstrip("/") + "/events"
    assert envelope["type"] == "com.ciam.user.signed_in.v1"
    assert RFC3339.match(envelope["time"]), envelope["time"]
    assert envelope["subject"] == customer.public_id
    assert envelope["datacontenttype"] == "application/json"
    assert envelope["data"] == {"method": "password"}


def test_scopes_limit_the_values_sent(customer, marketing):
    """A receiver with scope "profile" gets the name but not the email address; with no
    scope list (internal) it gets both; purpose data needs the purpose AND the grant."""
    grant(customer, marketing)
    event = profile_event(customer)
    profile_only = event_envelope(event, scopes=["profile"], purposes=["marketing"])
    assert profile_only["data"]["fields"] == {"given_name": "Ana", "home_style": "rustic"}
    assert profile_only["data"]["changed"] == ["email", "given_name", "home_style"]
    internal = event_envelope(event)
    assert internal["data"]["fields"] == {
        "email": "ana@example.com",
        "given_name": "Ana",
        "home_style": "rustic",
    }
    no_purpose = event_envelope(event, scopes=["profile", "email"], purposes=[])
    assert no_purpose["data"]["fields"] == {"email": "ana@example.com", "given_name": "Ana"}


def test_a_purpose_withdrawn_after_the_event_is_not_sent(customer, marketing):
    """The consent checked is the current one: granted when the event was written,
    withdrawn before sending, the value is left out (even for internal receivers)."""
    grant(customer, marketing)
    event = profile_event(customer)
    assert "home_style" in event_envelope(event, purposes=["marketing"])["data"]["fields"]
    withdraw(customer, marketing)
    assert "home_style" not in event_envelope(event, purposes=["marketing"])["data"]["fields"]
    assert "home_style" not in event_envelope(event)["data"]["fields"]


def test_never_granted_purpose_is_not_sent(customer, marketing):
    """Without any grant the purpose's values stay out."""
    event = profile_event(customer)
    assert event_envelope(event, purposes=["marketing"])["data"]["fields"] == {
        "email": "ana@example.com",
        "given_name": "Ana",
    }


def test_an_event_that_requires_a_purpose_is_hidden_without_it(customer, marketing):
    """profile.field_collected of a marketing answer: None for a receiver that may not see
    marketing data, or when the customer has not granted it."""
    event = event_emit(
        type="profile.field_collected",
        user=customer,
        data={
            "field": "home_style",
            "source": "question",
            "value": tagged("rustic", purpose="marketing"),
            "_requires": requires(purpose="marketing"),
        },
    )
    assert event_envelope(event, purposes=["marketing"]) is None  # not granted
    grant(customer, marketing)
    assert event_envelope(event, purposes=[]) is None  # not the receiver's purpose
    envelope = event_envelope(event, purposes=["marketing"])
    assert envelope["data"] == {"field": "home_style", "source": "question", "value": "rustic"}


def test_a_pairwise_client_gets_its_own_subject(customer):
    """With the receiver's application, the subject is the one that client sees."""
    from oauth2_provider.models import get_application_model

    from ciam.subjects import subject_for

    registered = make_client(
        "web", subject_type="pairwise", redirect_uris=["https://rp.example.test/callback"]
    )
    application = get_application_model().objects.get(client_id=registered.client_id)
    event = event_emit(type="user.signed_in", user=customer, data={})
    envelope = event_envelope(event, application=application)
    assert envelope["subject"] == subject_for(customer, application)
    assert envelope["subject"] != customer.public_id


def test_tagged_values_inside_lists_and_nesting():
    """Tags are honoured at any depth; a list keeps the items the receiver may see."""
    data = {
        "items": [tagged("a", scope="email"), "plain", {"x": tagged(1, scope="profile")}],
        "nested": {"deep": tagged("secret", scope="phone")},
    }
    projected = event_data_project(data, user=None, scopes=["profile"])
    assert projected == {"items": ["plain", {"x": 1}], "nested": {}}
    assert without_tagged(data) == {"items": ["plain", {}], "nested": {}}


def test_deleted_user_keeps_the_public_subject_and_loses_personal_values(customer):
    """After deletion, earlier events keep facts and the public subject, not the values;
    user.deleted is written in the deleting transaction."""
    event = profile_event(customer)
    public_id = customer.public_id
    customer.delete()
    event.refresh_from_db()
    envelope = event_envelope(event)
    assert envelope["subject"] == public_id
    assert envelope["data"]["fields"] == {}
    assert "ana@example.com" not in str(event.data)
    deleted = OutboxEvent.objects.get(type="user.deleted")
    assert deleted.subject == public_id
    assert event_envelope(deleted)["subject"] == public_id


def test_a_pairwise_client_never_gets_the_public_subject_of_a_deleted_user(customer):
    """The user is gone (user NULL, public subject kept): a pairwise client gets the same
    pairwise subject as before the deletion, never the public one; a legacy client none."""
    from oauth2_provider.models import get_application_model

    from ciam.subjects import subject_for

    registered = make_client(
        "web", subject_type="pairwise", redirect_uris=["https://rp.example.test/callback"]
    )
    application = get_application_model().objects.get(client_id=registered.client_id)
    event = event_emit(type="user.signed_in", user=customer, data={})
    before = subject_for(customer, application)
    public_id = customer.public_id
    customer.delete()
    event.refresh_from_db()
    envelope = event_envelope(event, application=application)
    assert envelope["subject"] == before
    assert envelope["subject"] != public_id
    application.subject_type = "legacy"
    assert "subject" not in event_envelope(event, application=application)
