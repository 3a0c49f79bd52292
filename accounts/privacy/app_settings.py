"""Options of the data subject rights, read from settings named ``CIAM_PRIVACY_<NAME>``.

Read on use, never at import time, so that tests and operators may change them.
"""

from __future__ import annotations

from common.app_settings import BaseAppSettings, Setting


class AppSettings(BaseAppSettings):
    prefix = "CIAM_PRIVACY_"

    ERASURE_GRACE_DAYS = Setting(
        int,
        7,
        "Days between a customer's request to delete their account and its erasure; signing "
        "in during them cancels the request (0: erased at the next erase_due_accounts run).",
    )
    RECENT_AUTHENTICATION_SECONDS = Setting(
        int,
        300,
        "An account without a password or an authenticator app confirms its deletion with a "
        "sign-in at most this old.",
    )


app_settings = AppSettings()
