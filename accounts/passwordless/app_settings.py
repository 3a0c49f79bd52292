"""Options of email sign-in, read from settings named ``CIAM_EMAIL_SIGN_IN_<NAME>``.

Read on use, never at import time, so that tests and operators may change them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


class AppSettings:
    prefix = "CIAM_EMAIL_SIGN_IN_"

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(settings, self.prefix + name, default)

    @property
    def ENABLED(self) -> bool:
        """Sign-in and sign-up by an emailed code or link (off: the pages answer 404)."""
        return bool(self._setting("ENABLED", True))

    @property
    def SECONDS(self) -> int:
        """How long an emailed code and link stay valid."""
        return int(self._setting("SECONDS", 600))

    @property
    def MAX_ATTEMPTS(self) -> int:
        """Wrong codes (or wrong confirmation numbers) before the email is spent."""
        return int(self._setting("MAX_ATTEMPTS", 5))

    @property
    def RESEND_SECONDS(self) -> int:
        """The wait between two emails to the same address (a new request or a resend)."""
        return int(self._setting("RESEND_SECONDS", 60))

    @property
    def SENDS_PER_EMAIL(self) -> int:
        """Emails to one address per SEND_WINDOW_SECONDS, whoever asks."""
        return int(self._setting("SENDS_PER_EMAIL", 8))

    @property
    def SENDS_PER_IP(self) -> int:
        """Emails asked for by one client address per SEND_WINDOW_SECONDS."""
        return int(self._setting("SENDS_PER_IP", 20))

    @property
    def SEND_WINDOW_SECONDS(self) -> int:
        return int(self._setting("SEND_WINDOW_SECONDS", 3600))

    @property
    def FAILURES_PER_EMAIL(self) -> int:
        """Wrong codes for one address per FAILURE_WINDOW_SECONDS, across emails."""
        return int(self._setting("FAILURES_PER_EMAIL", 10))

    @property
    def FAILURES_PER_IP(self) -> int:
        """Wrong codes, numbers or links from one client address per FAILURE_WINDOW_SECONDS."""
        return int(self._setting("FAILURES_PER_IP", 30))

    @property
    def FAILURE_WINDOW_SECONDS(self) -> int:
        return int(self._setting("FAILURE_WINDOW_SECONDS", 900))


app_settings = AppSettings()
