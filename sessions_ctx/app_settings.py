"""Options of the session context, read from settings named ``CIAM_SESSIONS_<NAME>``."""

from __future__ import annotations

from collections.abc import Iterable

from common.app_settings import BaseAppSettings, Setting


def _dotted_paths(value: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part for part in value.replace(",", " ").split() if part)
    return tuple(str(part) for part in value)


class AppSettings(BaseAppSettings):
    prefix = "CIAM_SESSIONS_"

    REAUTHENTICATION_MAX_FAILURES = Setting(
        int,
        5,
        "Wrong passwords or codes allowed when confirming it is you before a sensitive change "
        "(any page: two-step verification, passkeys), per user and per client address...",
    )
    REAUTHENTICATION_WINDOW_SECONDS = Setting(
        int, 300, "...within this many seconds; then HTTP 429 until the window ends."
    )
    SECOND_FACTOR_CHECKS = Setting(
        _dotted_paths,
        (),
        "Functions, by dotted path, each called as ``check(request=request)`` and answering "
        "True while the session has not proven a second factor its user set up "
        "(policy.session_second_factor_missing). Named, not imported: this app knows no "
        "sign-in method.",
    )


app_settings = AppSettings()


class OutboundSettings(BaseAppSettings):
    """Calls this provider makes to servers it is told about (sessions_ctx.outbound)."""

    prefix = "CIAM_OUTBOUND_"

    ALLOW_PRIVATE_ADDRESSES = Setting(
        bool,
        False,
        "Let outbound calls reach loopback, private, link-local, multicast and reserved "
        "addresses (development and tests; cloud metadata addresses stay refused).",
    )


outbound_settings = OutboundSettings()
