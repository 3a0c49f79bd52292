"""Options of email sign-in, read from settings named ``CIAM_EMAIL_SIGN_IN_<NAME>``.

Read on use, never at import time, so that tests and operators may change them.
"""

from __future__ import annotations

from common.app_settings import BaseAppSettings, Setting


class AppSettings(BaseAppSettings):
    prefix = "CIAM_EMAIL_SIGN_IN_"

    ENABLED = Setting(
        bool, True, "Sign-in and sign-up by an emailed code or link (off: the pages answer 404)."
    )
    SECONDS = Setting(int, 600, "How long an emailed code and link stay valid.")
    MAX_ATTEMPTS = Setting(
        int, 5, "Wrong codes (or wrong confirmation numbers) before the email is spent."
    )
    RESEND_SECONDS = Setting(
        int, 60, "The wait between two emails to the same address (a new request or a resend)."
    )
    SENDS_PER_EMAIL = Setting(
        int, 8, "Emails to one address per SEND_WINDOW_SECONDS, whoever asks."
    )
    SENDS_PER_IP = Setting(
        int, 20, "Emails asked for by one client address per SEND_WINDOW_SECONDS."
    )
    SEND_WINDOW_SECONDS = Setting(int, 3600)
    FAILURES_PER_EMAIL = Setting(
        int, 10, "Wrong codes for one address per FAILURE_WINDOW_SECONDS, across emails."
    )
    FAILURES_PER_IP = Setting(
        int, 30, "Wrong codes, numbers or links from one client address per FAILURE_WINDOW_SECONDS."
    )
    FAILURE_WINDOW_SECONDS = Setting(int, 900)


app_settings = AppSettings()
