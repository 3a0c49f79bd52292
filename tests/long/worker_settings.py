"""The provider's settings for the delivery worker of the long tests: a lease that lapses
seconds after a killed worker's claim instead of half a minute (the margin is a Django
setting only, webhooks/app_settings.py)."""

from ciam.settings import *  # noqa: F403

CIAM_WEBHOOKS_LEASE_MARGIN_SECONDS = 1.0
