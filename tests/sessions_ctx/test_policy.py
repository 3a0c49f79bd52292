"""acr policy over plain values: what a session lacks, and who says a second factor is due."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from sessions_ctx.policy import (
    UNSUPPORTED_ACR,
    Shortfall,
    acr_shortfall,
    session_second_factor_missing,
)

calls: list[object] = []


def says_missing(*, request) -> bool:
    calls.append(request)
    return True


def says_fine(*, request) -> bool:
    calls.append(request)
    return False


@pytest.mark.parametrize(
    ("amr", "acr", "demanded", "shortfall"),
    [
        (["pwd"], "1", None, Shortfall.NONE),
        (["pwd"], "1", "1", Shortfall.NONE),
        (["pwd"], "1", UNSUPPORTED_ACR, Shortfall.UNSUPPORTED),
        (["pwd"], "1", "2", Shortfall.ONE_TIME_CODE),  # password + code is two kinds
        (["fed"], "1", "2", Shortfall.FIRST_FACTOR),  # a code adds no second kind
        (["otp"], "1", "2", Shortfall.FIRST_FACTOR),
        (["pwd", "otp", "mfa"], "2", "2", Shortfall.NONE),
        (["pwd", "otp", "mfa"], "2", "phr", Shortfall.PASSKEY),
        (["swk", "user"], "phr", "phrh", Shortfall.PASSKEY),
        (["hwk", "user"], "phrh", "phr", Shortfall.NONE),
    ],
)
def test_acr_shortfall(amr, acr, demanded, shortfall):
    """What a session lacks: nothing, a one-time code, another first factor, a passkey, or
    a level nobody offers."""
    assert acr_shortfall(amr=amr, acr=acr, demanded=demanded) is shortfall


def test_second_factor_missing_asks_the_configured_checks(settings):
    """The checks named in CIAM_SESSIONS_SECOND_FACTOR_CHECKS decide, live, each given the
    request; none configured: nothing is missing."""
    request = RequestFactory().get("/")
    here = __name__
    calls.clear()
    settings.CIAM_SESSIONS_SECOND_FACTOR_CHECKS = [f"{here}.says_fine"]
    assert not session_second_factor_missing(request)
    settings.CIAM_SESSIONS_SECOND_FACTOR_CHECKS = [f"{here}.says_fine", f"{here}.says_missing"]
    assert session_second_factor_missing(request)
    assert calls == [request, request, request]
    settings.CIAM_SESSIONS_SECOND_FACTOR_CHECKS = []
    assert not session_second_factor_missing(request)


def test_second_factor_checks_default_to_the_authenticator_app():
    """By default the second factor's own rule is asked (accounts.mfa, named, not imported)."""
    from sessions_ctx.app_settings import app_settings

    assert app_settings.SECOND_FACTOR_CHECKS == (
        "accounts.mfa.selectors.session_needs_second_factor",
    )
