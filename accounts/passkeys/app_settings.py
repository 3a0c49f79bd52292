"""Options of passkey sign-in, read from settings named ``CIAM_PASSKEYS_<NAME>``.

Read on use, never at import time, so that tests and operators may change them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings

from common.app_settings import BaseAppSettings, Setting


def _issuer_host(settings: Any) -> str:
    return str(urlsplit(settings.CIAM_ISSUER).hostname)


def _brand_name(settings: Any) -> str:
    return str(settings.CIAM_BRAND_NAME)


def _issuer_origin(settings: Any) -> list[str]:
    issuer = urlsplit(settings.CIAM_ISSUER)
    return [f"{issuer.scheme}://{issuer.netloc}"]


def _origins(value: Any) -> list[str]:
    """Each origin without a trailing slash; none given (an empty list too): the issuer's."""
    origins = [str(origin).rstrip("/") for origin in value or ()]
    return origins or _issuer_origin(django_settings)


class AppSettings(BaseAppSettings):
    prefix = "CIAM_PASSKEYS_"

    RP_ID = Setting(
        str,
        _issuer_host,
        "The WebAuthn relying party ID: the issuer's host unless set (WebAuthn L3 5.1.2).",
    )
    RP_NAME = Setting(
        str,
        _brand_name,
        "The name authenticators show next to the account (default: the brand name).",
    )
    ORIGINS = Setting(
        _origins,
        _issuer_origin,
        "Origins a passkey response may come from (clientDataJSON.origin, compared exactly).",
    )
    CHALLENGE_SECONDS = Setting(
        int,
        300,
        "How long a registration or sign-in challenge stays valid (also the browser timeout). "
        "Autofill sign-in waits while the person types, so this is minutes, not seconds.",
    )
    RECENT_AUTHENTICATION_SECONDS = Setting(
        int, 300, "Adding or removing a passkey needs a sign-in at most this old."
    )
    MAX_FAILED_ATTEMPTS = Setting(
        int,
        10,
        "Failed passkey sign-ins (or password confirmations) allowed per client address....",
    )
    FAILED_ATTEMPTS_WINDOW_SECONDS = Setting(
        int, 300, "...within this many seconds; then HTTP 429 until the window ends."
    )
    OFFER_ENABLED = Setting(
        bool,
        True,
        "Offer to create a passkey right after a sign-in during an authorization request.",
    )


app_settings = AppSettings()
