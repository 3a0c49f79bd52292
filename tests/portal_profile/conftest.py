"""Fixtures of the portal's profile, email and phone pages: text messages kept in memory,
the profile schema read afresh, the security notices on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts import sms
from profiling.schema import schema_forget


@pytest.fixture(autouse=True)
def sms_outbox(settings) -> Iterator[list[sms.TextMessage]]:
    """Text messages go to ``accounts.sms.outbox`` (emptied for each test)."""
    settings.CIAM_SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _fresh_schema() -> Iterator[None]:
    schema_forget()
    yield
    schema_forget()


@pytest.fixture(autouse=True)
def _email_notifications(settings) -> None:
    """allauth's notices (email changed) are sent."""
    settings.ACCOUNT_EMAIL_NOTIFICATIONS = True
