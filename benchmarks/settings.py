"""Settings of the provider under benchmark: production settings, sign-in limits raised.

Every request of a benchmark comes from 127.0.0.1 and signs in the same user, so allauth's
sign-in limits would turn the sign-in scenario into a measure of those limits: "login"
(30/m/ip), and "login_failed" (10/m/ip, 5/300s per email), which every attempt consumes before
the password is checked and a successful one gives back: more than 5 sign-ins of one user in
flight at once are refused even with the right password. They are raised, not removed: the
limiter still runs (and costs what it costs) on every sign-in.
"""

from ciam.settings import *  # noqa: F403

ACCOUNT_RATE_LIMITS = {
    "login": "1000000/m/ip",
    "login_failed": "1000000/m/ip,1000000/300s/key",
}
