"""Fixtures of the personalization tests."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from consent.models import ConsentAction, Purpose, PurposeKind
from tests.consent.purposes_helpers import make_purpose
from tests.console.conftest import delegation  # noqa: F401 - the delegated operator's fixture
from tests.factories import UserFactory
from tests.interactions.conftest import decide

# --- Segments and their admin (test_segments.py, test_admin.py) ---------------------------


@pytest.fixture
def segment_purposes(db) -> dict[str, Purpose]:
    """The personalization purpose every member needs, and a marketing one that segments
    may name in a ``consent`` condition."""
    return {
        "personalization": make_purpose("personalization", kind=PurposeKind.PERSONALIZATION),
        "newsletter": make_purpose("newsletter", kind=PurposeKind.MARKETING_EMAIL),
    }


@pytest.fixture
def segment_customer(segment_purposes) -> Callable[..., Any]:
    """Makes a customer; ``personalization=False``: one who never granted it, ``"withdrawn"``:
    one who granted then withdrew it; ``newsletter=True``: one who also grants that."""

    def make(*, personalization: bool | str = True, newsletter: bool = False) -> Any:
        user = UserFactory(email=f"customer-{secrets.token_hex(4)}@example.com")
        if personalization:
            decide(user, segment_purposes["personalization"])
        if personalization == "withdrawn":
            decide(user, segment_purposes["personalization"], ConsentAction.WITHDRAWN)
        if newsletter:
            decide(user, segment_purposes["newsletter"])
        return user

    return make


@pytest.fixture
def segment_operator(db) -> Any:
    """A superuser of the console."""
    return get_user_model().objects.create_superuser(
        email="segments-root@example.com", password="operator-password-1"
    )


@pytest.fixture
def segment_admin_client(client, segment_operator) -> Any:
    """A test client signed in as ``segment_operator``."""
    client.force_login(segment_operator)
    return client
