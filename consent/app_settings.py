"""Options of the consent app, read from settings named ``CIAM_CONSENT_<NAME>``.

Each is read on access, never at import time (``common/app_settings.py``).
"""

from __future__ import annotations

from typing import Any

from common.app_settings import BaseAppSettings, Setting


def _default_from_email(settings: Any) -> str:
    return str(settings.DEFAULT_FROM_EMAIL)


class AppSettings(BaseAppSettings):
    prefix = "CIAM_CONSENT_"

    JURISDICTION = Setting(
        str,
        "BR",
        "Jurisdiction named in consent receipts (Kantara Consent Receipt 1.1 ``jurisdiction``), "
        "e.g. BR (LGPD) or EU (GDPR).",
    )
    CONTROLLER_CONTACT = Setting(
        str,
        _default_from_email,
        "Contact of the data controller in consent receipts (``piiControllers[].contact``); "
        "default: DEFAULT_FROM_EMAIL.",
    )


app_settings = AppSettings()
