"""Options of passkey sign-in, read from settings named ``CIAM_PASSKEYS_<NAME>``.

Read on use, never at import time, so that tests and operators may change them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings


class AppSettings:
    prefix = "CIAM_PASSKEYS_"

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(settings, self.prefix + name, default)

    @property
    def RP_ID(self) -> str:
        """The WebAuthn relying party ID: the issuer's host unless set (WebAuthn L3 5.1.2)."""
        return str(self._setting("RP_ID", "") or urlsplit(settings.CIAM_ISSUER).hostname)

    @property
    def RP_NAME(self) -> str:
        """The name authenticators show next to the account (default: the brand name)."""
        return str(self._setting("RP_NAME", "") or settings.CIAM_BRAND_NAME)

    @property
    def ORIGINS(self) -> list[str]:
        """Origins a passkey response may come from (clientDataJSON.origin, compared exactly)."""
        origins = self._setting("ORIGINS", None)
        if origins:
            return [str(origin).rstrip("/") for origin in origins]
        issuer = urlsplit(settings.CIAM_ISSUER)
        return [f"{issuer.scheme}://{issuer.netloc}"]

    @property
    def CHALLENGE_SECONDS(self) -> int:
        """How long a registration or sign-in challenge stays valid (also the browser timeout).
        Autofill sign-in waits while the person types, so this is minutes, not seconds."""
        return int(self._setting("CHALLENGE_SECONDS", 300))

    @property
    def RECENT_AUTHENTICATION_SECONDS(self) -> int:
        """Adding or removing a passkey needs a sign-in at most this old."""
        return int(self._setting("RECENT_AUTHENTICATION_SECONDS", 300))

    @property
    def MAX_FAILED_ATTEMPTS(self) -> int:
        """Failed passkey sign-ins (or password confirmations) allowed per client address...."""
        return int(self._setting("MAX_FAILED_ATTEMPTS", 10))

    @property
    def FAILED_ATTEMPTS_WINDOW_SECONDS(self) -> int:
        """...within this many seconds; then HTTP 429 until the window ends."""
        return int(self._setting("FAILED_ATTEMPTS_WINDOW_SECONDS", 300))

    @property
    def OFFER_ENABLED(self) -> bool:
        """Offer to create a passkey right after a sign-in during an authorization request."""
        return bool(self._setting("OFFER_ENABLED", True))


app_settings = AppSettings()
