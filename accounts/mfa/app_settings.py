"""Options of the second factor, read from settings named ``CIAM_MFA_<NAME>``.

Read on use, never at import time, so that tests and operators may change them.
"""

from __future__ import annotations

from typing import Any

from common.app_settings import BaseAppSettings, Setting


def _brand_name(settings: Any) -> str:
    return str(getattr(settings, "CIAM_BRAND_NAME", ""))


class AppSettings(BaseAppSettings):
    prefix = "CIAM_MFA_"

    REMEMBER_DEVICE_DAYS = Setting(
        int,
        30,
        'How long "remember this browser" skips the second factor (0 turns the option off).',
    )
    MAX_FAILED_CODES = Setting(
        int, 5, "Wrong codes (or passwords on re-authentication) allowed per user and per IP..."
    )
    FAILED_CODES_WINDOW_SECONDS = Setting(
        int, 300, "...within this many seconds; then HTTP 429 until the window ends."
    )
    RECOVERY_CODE_COUNT = Setting(int, 10, "How many recovery codes are made at a time.")
    RECENT_AUTHENTICATION_SECONDS = Setting(
        int, 600, "Setting up an authenticator app needs a sign-in at most this old."
    )
    TOTP_ISSUER = Setting(
        str, _brand_name, "The account's label in authenticator apps (default: the brand name)."
    )


app_settings = AppSettings()
