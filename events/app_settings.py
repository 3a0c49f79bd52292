"""Options of the events outbox, read from settings named ``CIAM_EVENTS_<NAME>``."""

from __future__ import annotations

from typing import Any

from common.app_settings import BaseAppSettings, Setting


def _names(value: Any) -> list[str]:
    """A list of names from a list or a comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    return [str(item).strip() for item in value or () if str(item).strip()]


class AppSettings(BaseAppSettings):
    prefix = "CIAM_EVENTS_"

    RETENTION_DAYS = Setting(
        int,
        30,
        "``manage.py events_prune`` deletes events older than this many days once every "
        "delivery of theirs is finished (succeeded, failed, skipped or cancelled).",
    )
    STREAM_URL = Setting(
        str,
        "",
        "Redis URL of the optional Streams sink (``manage.py events_stream``), e.g. "
        "redis://127.0.0.1:6379/0. Empty: no sink.",
    )
    STREAM_KEY = Setting(str, "ciam:events", "The Redis stream the sink appends to (XADD).")
    STREAM_MAXLEN = Setting(
        int,
        100_000,
        "Approximate bound of the stream's length (XADD MAXLEN ~): older entries are trimmed; "
        "the outbox stays the source of truth.",
    )
    STREAM_BATCH = Setting(int, 500, "Events read from the outbox and written per round.")
    STREAM_POLL_SECONDS = Setting(
        float, 1.0, "Pause of ``events_stream`` when the outbox has nothing new."
    )
    STREAM_GAP_SECONDS = Setting(
        float,
        5.0,
        "An id missing in the outbox's order may be a transaction still in flight (its id "
        "taken, its commit later): the sink waits this long for it before going past it "
        "(then it was rolled back).",
    )

    STREAM_GAP_KEEP_SECONDS = Setting(
        float,
        86_400.0,
        "How long the sink keeps looking for ids it went past (a transaction that committed "
        "later than STREAM_GAP_SECONDS): such an event is still published, out of order, "
        "if it turns up within this time after the gap was first seen.",
    )
    STREAM_SCOPES = Setting(
        _names,
        [],
        'Scopes whose tagged values the stream\'s entries carry (e.g. ``["email"]``). Empty: '
        "facts only, no tagged personal values.",
    )
    STREAM_PURPOSES = Setting(
        _names,
        [],
        "Consent purposes whose tagged values (while the customer grants them) the stream's "
        "entries carry. Empty: none; events that require a purpose are not published.",
    )


app_settings = AppSettings()
