"""Fixtures of the outbox's tests: customers, an operator, a consent purpose, a profile field
under it."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module

import pytest
from django.test import Client
from django.utils import translation

from tests.factories import UserFactory
from tests.redis_server import redis_url  # noqa: F401 - fixture

IP = "203.0.113.20"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) EventsTest/1.0"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _default_policy(db) -> None:
    """The default risk policy as its migration installs it (a transactional test may have
    emptied the tables)."""
    from django.apps import apps

    migration = import_module("sessions_ctx.migrations.0002_default_risk_policy")
    migration.create_default_policy(apps, None)


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def browser() -> Client:
    return Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)


@pytest.fixture
def operator(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(
        email="operator@example.com", password="operator-password-1"
    )


@pytest.fixture
def operator_client(operator) -> Client:
    client = Client(REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="OperatorBrowser/2")
    client.force_login(operator)
    return client


@pytest.fixture
def marketing(db):
    """A consent purpose with one published version."""
    from tests.consent.purposes_helpers import make_purpose

    return make_purpose("marketing")


@pytest.fixture
def style_field(db, marketing):
    """A profile field collected under the marketing purpose (scope profile)."""
    from profiling.models import FieldType, ProfileField, Sensitivity
    from profiling.schema import schema_forget

    field = ProfileField.objects.create(
        key="home_style",
        type=FieldType.TEXT,
        label_en="Your home's style",
        claim="https://shop.example/style",
        sensitivity=Sensitivity.PERSONAL,
        purpose=marketing,
        check_junk=False,
    )
    schema_forget()
    yield field
    schema_forget()


def grant(user, purpose, *, channel: str = "portal"):
    from consent.services.ledger import consent_record

    return consent_record(
        user=user, version=purpose.current_version(), action="granted", channel=channel
    )


def withdraw(user, purpose):
    from consent.services.ledger import purpose_withdraw

    return purpose_withdraw(user=user, purpose=purpose, channel="portal")


def events_of(user, kind: str | None = None):
    from events.models import OutboxEvent

    events = OutboxEvent.objects.filter(user=user).order_by("pk")
    return list(events.filter(type=kind) if kind else events)
