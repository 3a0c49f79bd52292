"""Options of the interactions app, read from settings named ``CIAM_INTERACTIONS_<NAME>``.

Each is read on access, never at import time (``common/app_settings.py``).
"""

from __future__ import annotations

from typing import Any

from common.app_settings import BaseAppSettings, Setting

# Which consent purpose an interaction serves when the sender names none (README
# "Interactions"): what a purchase or a support contact tells about a customer serves their
# personalisation, the rest is measurement.
DEFAULT_PURPOSES = {
    "purchase": "personalization",
    "support_contact": "personalization",
    "app_open": "analytics",
    "page_view": "analytics",
    "campaign_click": "analytics",
}


def _purposes(value: Any) -> dict[str, str]:
    return {str(key): str(purpose) for key, purpose in dict(value).items()}


def _kinds(value: Any) -> tuple[str, ...]:
    return tuple(str(kind) for kind in value)


class AppSettings(BaseAppSettings):
    prefix = "CIAM_INTERACTIONS_"

    MAX_BATCH = Setting(int, 500, "Most interactions one POST /api/interactions/ may carry.")
    MAX_BODY_BYTES = Setting(
        int,
        2 * 1024 * 1024,
        "Largest ingest body in bytes (413 above it); keep it under Django's "
        "DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default).",
    )
    MAX_PROPERTIES_BYTES = Setting(
        int, 8 * 1024, "Largest ``properties`` object of one interaction, serialised as JSON."
    )
    MAX_FUTURE_SECONDS = Setting(
        int, 300, "How far in the future ``occurred_at`` may be (clock skew of the sender)."
    )
    RETENTION_DAYS = Setting(
        int,
        730,
        "Interactions older than this are deleted by ``manage.py interactions_prune`` (and "
        "refused at ingest).",
    )
    DEFAULT_PURPOSES = Setting(
        _purposes,
        DEFAULT_PURPOSES,
        "Interaction type -> key of the consent purpose it serves when the item names none.",
    )
    PURPOSE_KINDS = Setting(
        _kinds,
        ("analytics", "personalization"),
        "Kinds of consent purpose (consent.models.PurposeKind) an interaction may be stored "
        "under: a sender cannot file activity under the terms of service, which everyone "
        "accepted.",
    )
    TIMELINE_PAGE_SIZE = Setting(int, 50, "Interactions per page of the unified profile.")
    TIMELINE_MAX_PAGE_SIZE = Setting(int, 200, "Largest ``limit`` of the timeline.")


app_settings = AppSettings()
