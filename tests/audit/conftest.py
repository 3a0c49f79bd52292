"""Fixtures of the audit log's tests: a customer signed in from a known address and browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import translation

from tests.factories import UserFactory

IP = "203.0.113.9"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AuditTest/1.0"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def customer_client(customer) -> Client:
    """The customer's browser: every request from ``IP`` with ``USER_AGENT``."""
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)
    client.force_login(customer)
    return client


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
