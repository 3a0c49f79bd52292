"""The sign-in throttle's tests run with the allauth rate limits the provider sets
(``ACCOUNT_RATE_LIMITS`` in ciam/settings.py): allauth's per-address limit on sign-in
attempts and its per-account lockout off, the provider's throttle in their place."""

from __future__ import annotations

import pytest

# allauth's "login" (30 attempts a minute per address) and "login_failed" (5 wrong
# passwords per email address) are replaced by sessions_ctx.services.password_attempts;
# its other limits (password reset emails, sign-up, email changes) keep their defaults.
RECOMMENDED_ACCOUNT_RATE_LIMITS = {"login": None, "login_failed": None}


@pytest.fixture(autouse=True)
def _provider_rate_limits(settings) -> None:
    settings.ACCOUNT_RATE_LIMITS = RECOMMENDED_ACCOUNT_RATE_LIMITS
    settings.ALLOWED_HOSTS = ["testserver", "id.example.test"]
