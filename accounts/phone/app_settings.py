"""Options of the mobile number change, read from settings named ``CIAM_PHONE_<NAME>``.

Read on use, never at import time, so that tests and operators may change them.
"""

from __future__ import annotations

from common.app_settings import BaseAppSettings, Setting


class AppSettings(BaseAppSettings):
    prefix = "CIAM_PHONE_"

    CODE_SECONDS = Setting(int, 600, "How long a code sent to a new number stays valid.")
    MAX_ATTEMPTS = Setting(
        int, 5, "Wrong codes allowed for one change; then the change starts over."
    )
    RESEND_SECONDS = Setting(int, 30, "The pause between two codes sent for one change.")
    SENDS_PER_HOUR = Setting(
        int,
        5,
        "Codes sent in an hour, at most, per account and per number (no one can flood a "
        "number with messages).",
    )


app_settings = AppSettings()
