"""Options of the second factor, read from settings named ``CIAM_MFA_<NAME>``.

Read on use, never at import time, so that tests and operators may change them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


class AppSettings:
    prefix = "CIAM_MFA_"

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(settings, self.prefix + name, default)

    @property
    def REMEMBER_DEVICE_DAYS(self) -> int:
        """How long "remember this browser" skips the second factor (0 turns the option off)."""
        return int(self._setting("REMEMBER_DEVICE_DAYS", 30))

    @property
    def MAX_FAILED_CODES(self) -> int:
        """Wrong codes (or passwords on re-authentication) allowed per user and per IP..."""
        return int(self._setting("MAX_FAILED_CODES", 5))

    @property
    def FAILED_CODES_WINDOW_SECONDS(self) -> int:
        """...within this many seconds; then HTTP 429 until the window ends."""
        return int(self._setting("FAILED_CODES_WINDOW_SECONDS", 300))

    @property
    def RECOVERY_CODE_COUNT(self) -> int:
        return int(self._setting("RECOVERY_CODE_COUNT", 10))

    @property
    def RECENT_AUTHENTICATION_SECONDS(self) -> int:
        """Setting up an authenticator app needs a sign-in at most this old."""
        return int(self._setting("RECENT_AUTHENTICATION_SECONDS", 600))

    @property
    def TOTP_ISSUER(self) -> str:
        """The account's label in authenticator apps (default: the brand name)."""
        return str(self._setting("TOTP_ISSUER", "") or getattr(settings, "CIAM_BRAND_NAME", ""))


app_settings = AppSettings()
