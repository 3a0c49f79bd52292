"""Settings of the provider under benchmark: production settings, one limit raised.

Every request of a benchmark comes from 127.0.0.1, so allauth's per-IP sign-in limit
("login": 30/m/ip) would turn the sign-in scenario into a measure of that limit. It is raised,
not removed: the limiter still runs (and costs what it costs) on every sign-in.
"""

from ciam.settings import *  # noqa: F403

ACCOUNT_RATE_LIMITS = {"login": "1000000/m/ip"}
