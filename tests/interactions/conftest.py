"""Fixtures of the interaction ingest and unified profile tests: the analytics and
personalization purposes, a customer who granted both, a back end holding events:write, and
helpers that build items and post batches."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from oauth2_provider.models import get_application_model

from consent.models import ClientPurpose, ConsentAction, ConsentChannel, Purpose, PurposeKind
from consent.services.ledger import consent_record
from tests.consent.purposes_helpers import make_purpose
from tests.console.conftest import delegation  # noqa: F401 - the delegated operator's fixture
from tests.factories import UserFactory, service_session

TIMEOUT = 10


@pytest.fixture
def purposes(db) -> dict[str, Purpose]:
    return {
        "analytics": make_purpose("analytics", kind=PurposeKind.ANALYTICS),
        "personalization": make_purpose("personalization", kind=PurposeKind.PERSONALIZATION),
        "terms": make_purpose("terms", kind=PurposeKind.TERMS_OF_SERVICE, required_everywhere=True),
    }


def decide(user: Any, purpose: Purpose, action: str = ConsentAction.GRANTED) -> None:
    """``user`` grants (or withdraws...) ``purpose``'s current version, in the ledger."""
    consent_record(
        user=user, version=purpose.current_version(), action=action, channel=ConsentChannel.PORTAL
    )


@pytest.fixture
def customer(purposes) -> Any:
    """A customer with a verified address who granted analytics and personalization."""
    user = UserFactory(email=f"ana-{secrets.token_hex(3)}@example.com")
    decide(user, purposes["analytics"])
    decide(user, purposes["personalization"])
    return user


@pytest.fixture
def insecure_transport(monkeypatch) -> None:
    # Authlib insists on https; the test server runs on http://localhost.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def sender(issuer, insecure_transport) -> OAuth2Session:
    """A back end (a store system) allowed to send interactions."""
    return service_session(issuer, "events:write", name="Store")


def link_purposes(session: OAuth2Session, *purposes: Purpose) -> None:
    """The client behind ``session`` offers ``purposes`` (``ClientPurpose``): it may read
    what the customer grants under them."""
    application = get_application_model().objects.get(client_id=session.client_id)
    for purpose in purposes:
        ClientPurpose.objects.get_or_create(application=application, purpose=purpose)


@pytest.fixture
def reader(issuer, insecure_transport, purposes) -> OAuth2Session:
    """A CRM allowed to send interactions and read customers' profiles and consents, under
    the analytics and personalization purposes: a machine reader sees only what it sent."""
    session = service_session(issuer, "profile:read consent:read events:write", name="CRM")
    link_purposes(session, purposes["analytics"], purposes["personalization"])
    return session


@pytest.fixture
def ingest_url(issuer) -> str:
    return issuer + "/api/interactions/"


def occurred(minutes_ago: int = 1) -> str:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return at.isoformat().replace("+00:00", "Z")


def item(kind: str = "page_view", *, user: Any = None, **overrides: Any) -> dict[str, Any]:
    """A valid item of ``kind`` about ``user`` (by email; a dict: as given) unless overridden."""
    properties = {
        "purchase": {"order_id": "A-1", "amount": "19.90", "currency": "BRL"},
        "page_view": {"url": "https://shop.example.test/p/1"},
        "campaign_click": {"campaign": "black-friday"},
        "app_open": {},
        "support_contact": {"topic": "delivery"},
    }[kind]
    body: dict[str, Any] = {
        "idempotency_key": str(uuid.uuid4()),
        "type": kind,
        "channel": {"purchase": "store", "app_open": "app", "support_contact": "support"}.get(
            kind, "web"
        ),
        "occurred_at": occurred(),
        "properties": properties,
    }
    if hasattr(user, "email"):
        body["user"] = {"email": user.email}
    elif user is not None:
        body["user"] = user
    body.update(overrides)
    return body


@pytest.fixture
def post_batch(sender, ingest_url) -> Callable[..., requests.Response]:
    def post(items: list[dict[str, Any]], session: OAuth2Session | None = None) -> Any:
        return (session or sender).post(ingest_url, json={"interactions": items}, timeout=TIMEOUT)

    return post
