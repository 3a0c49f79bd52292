from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ciam.services.backchannel_logout import backchannel_logouts_deliver_due


class Command(BaseCommand):
    help = (
        "Retry the back-channel logout tokens (OIDC Back-Channel Logout 1.0) whose delivery "
        "failed and whose next attempt is due (up to 5 attempts over about an hour)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        delivered, failed = backchannel_logouts_deliver_due()
        self.stdout.write(f"delivered: {delivered}, failed: {failed}")
