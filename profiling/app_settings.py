"""Options of progressive profiling, read from settings named ``CIAM_PROFILING_<NAME>``.

Each is read on access, never at import time (``common/app_settings.py``).
"""

from __future__ import annotations

from common.app_settings import BaseAppSettings, Setting


class AppSettings(BaseAppSettings):
    prefix = "CIAM_PROFILING_"

    POLICY = Setting(
        str,
        "learner",
        "Which eligible question is asked, and whether one is asked now: ``learner`` (the "
        "contextual bandit, profiling/learner.py) or ``fixed`` (the first eligible field by "
        "rule priority, always).",
    )
    EXPLORE_RATE = Setting(
        float,
        0.05,
        "Share of the learner's decisions made uniformly at random and logged as such, so "
        "that policies can be compared offline (replay evaluation).",
    )
    ABANDON_WEIGHT = Setting(
        float, 2.0, "How many answers an abandoned sign-in costs in the learner's reward."
    )
    MIN_HOURS_BETWEEN_QUESTIONS = Setting(
        float,
        20.0,
        "No optional question is asked to a user who was asked one less than this many "
        "hours ago (required fields are always asked).",
    )
    ABANDON_AFTER_MINUTES = Setting(
        int,
        30,
        "A question neither answered nor skipped this many minutes after it was shown "
        "counts as an abandoned sign-in.",
    )
    JUNK_RETRIES = Setting(
        int, 1, "Times a junk answer is asked again politely before it counts as junk."
    )


app_settings = AppSettings()
