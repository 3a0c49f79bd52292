"""Options of the Shared Signals transmitter, read from settings named ``CIAM_SSF_<NAME>``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from common.app_settings import BaseAppSettings, Setting

DEFAULT_SUBJECTS_ALL = "ALL"
DEFAULT_SUBJECTS_NONE = "NONE"


def _default_subjects(value: Any) -> str:
    value = str(value).strip().upper()
    if value not in (DEFAULT_SUBJECTS_ALL, DEFAULT_SUBJECTS_NONE):
        raise ImproperlyConfigured("CIAM_SSF_DEFAULT_SUBJECTS must be ALL or NONE.")
    return value


def _seconds(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    return tuple(int(part) for part in value)


class AppSettings(BaseAppSettings):
    prefix = "CIAM_SSF_"

    DEFAULT_SUBJECTS = Setting(
        _default_subjects,
        DEFAULT_SUBJECTS_ALL,
        "SSF 1.0 7.1 default_subjects of new streams: ALL (every customer who uses the "
        "receiving client, minus those removed with subjects:remove) or NONE (only the "
        "customers added with subjects:add, still only if they use the client).",
    )
    MAX_STREAMS_PER_CLIENT = Setting(
        int,
        1,
        "Streams one client may hold; creating one more answers 409 (SSF 1.0 8.1.1.1).",
    )
    MIN_VERIFICATION_INTERVAL_SECONDS = Setting(
        int,
        30,
        "SSF 1.0 8.1.1 min_verification_interval: a verification asked sooner after the "
        "previous one answers 429. 0: no limit.",
    )
    CONTROL_RETRY_SECONDS = Setting(
        _seconds,
        (30, 300, 1800),
        "Verification and stream-updated SETs (sent by ``manage.py ssf_deliver``, not the "
        "webhooks worker): failures of the first push are retried after these delays, then "
        "given up.",
    )
    TIMEOUT_SECONDS = Setting(
        float,
        15.0,
        "Timeout of one push of a verification or stream-updated SET (the webhooks worker "
        "has its own for the others).",
    )
    MANAGE_RATE_LIMIT = Setting(
        int,
        10,
        "Stream creations, deletions and verification requests one client may make in "
        "CIAM_SSF_MANAGE_RATE_WINDOW_SECONDS; more answer 429 with Retry-After. 0: no limit.",
    )
    MANAGE_RATE_WINDOW_SECONDS = Setting(
        int, 60, "The window of CIAM_SSF_MANAGE_RATE_LIMIT, in seconds."
    )
    CONTROL_BATCH_SIZE = Setting(
        int, 100, "Stream SETs one pass of ``manage.py ssf_deliver`` pushes at most."
    )
    CONTROL_RETENTION_DAYS = Setting(
        int,
        7,
        "Delivered or given-up verification and stream-updated SETs are deleted by "
        "``manage.py ssf_deliver`` after this many days.",
    )
    SESSION_WAIT_SECONDS = Setting(
        int,
        60,
        "A sign-in reaches a stream only once the stream's client holds an authorization of "
        "that session (CAEP session-established); the delivery is retried until then, for "
        "at most this many seconds after the sign-in, then skipped.",
    )
    PAIRWISE_SCAN_LIMIT = Setting(
        int,
        20000,
        "A pairwise iss_sub subject (subjects:add/remove) is found by comparing it with the "
        "pairwise subs of the client's customers, the most recent first, at most this many "
        "(found subjects are cached); beyond: treated as unknown (the same empty answer).",
    )
    USER_AGENT = Setting(
        str, "CIAM-SSF/1.0", "The User-Agent of verification and stream-updated SET pushes."
    )


app_settings = AppSettings()
