"""Options of personalization, read from settings named ``CIAM_PERSONALIZATION_<NAME>``.

Each is read on access, never at import time (``common/app_settings.py``).
"""

from __future__ import annotations

from typing import Any

from common.app_settings import BaseAppSettings, Setting

# How much one interaction of each type tells about a taste (a purchase more than a view).
TYPE_WEIGHTS = {
    "purchase": 3.0,
    "campaign_click": 1.0,
    "page_view": 1.0,
    "app_open": 0.0,
    "support_contact": 0.0,
}


MODELS = ("item_item", "als")


def _model(value: Any) -> str:
    from django.core.exceptions import ImproperlyConfigured

    if value not in MODELS:
        raise ImproperlyConfigured(
            f"CIAM_PERSONALIZATION_MODEL is one of {', '.join(MODELS)}, not {value!r}"
        )
    return str(value)


def _weights(value: Any) -> dict[str, float]:
    return {str(key): float(weight) for key, weight in dict(value).items()}


class AppSettings(BaseAppSettings):
    prefix = "CIAM_PERSONALIZATION_"

    MODEL = Setting(
        _model,
        "item_item",
        "Collaborative model of the recommendations: ``item_item`` (cosine item-item "
        "co-occurrence) or ``als`` (implicit-feedback matrix factorisation, the ``implicit`` "
        "package). benchmarks/personalization.py compares them.",
    )
    FULL_EVERY_HOURS = Setting(
        float,
        24.0,
        "``manage.py personalization_train`` (auto) refits the models when the last full "
        "run is older than this; otherwise it updates the customers with new activity.",
    )
    HALF_LIFE_DAYS = Setting(
        float, 45.0, "An interaction this many days old counts half as much as one of today."
    )
    HISTORY_DAYS = Setting(int, 365, "Interactions older than this are not used.")
    TYPE_WEIGHTS = Setting(
        _weights, TYPE_WEIGHTS, "Interaction type -> weight of its evidence (0: not used)."
    )
    INTERESTS_SHARED = Setting(int, 10, "Most interests in the claim and the API.")
    MIN_SCORE = Setting(float, 0.05, "Inferred interests scoring below this are not kept.")
    RECOMMENDATIONS = Setting(int, 10, "Next-item recommendations kept per customer.")
    NEIGHBOURS = Setting(
        int,
        100,
        "Neighbours kept per item by the item-item model (stored as ``ItemNeighbour`` rows; "
        "benchmarks/personalization.py: 200 is best on its shop, 400 adds 1-3 %).",
    )
    BEST_HOURS = Setting(int, 3, "Hours of the day in the best contact window.")
    BEST_WEEKDAYS = Setting(int, 2, "Weekdays in the best contact window.")
    PRIOR_STRENGTH = Setting(
        float,
        3.0,
        "Weight, in interactions, of the population's hours in a customer's window: a new "
        "customer gets the population's best hours, an active one their own.",
    )
    TIME_ZONE = Setting(
        str,
        "America/Sao_Paulo",
        "Time zone of the best contact window when the customer's profile names none "
        "(the ``zoneinfo`` claim).",
    )


app_settings = AppSettings()
