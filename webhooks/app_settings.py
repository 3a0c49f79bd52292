"""Options of the webhooks app, read from settings named ``CIAM_WEBHOOKS_<NAME>``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from common.app_settings import BaseAppSettings, Setting

# Svix's schedule (docs.svix.com "Retries"): after the first attempt, wait 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h: the last attempt about 3 days after the first.
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)

DEFAULT_FORMATTERS = {
    "webhook": "webhooks.formats.standard_webhook_request",
    "ssf": "ssf.delivery.set_request",
}


def _seconds_list(value: Iterable[Any] | str) -> tuple[float, ...]:
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    return tuple(max(0.0, float(part)) for part in value)


def _formatters(value: Mapping[str, str]) -> dict[str, str]:
    return {**DEFAULT_FORMATTERS, **{str(k): str(v) for k, v in dict(value).items()}}


class AppSettings(BaseAppSettings):
    prefix = "CIAM_WEBHOOKS_"

    TIMEOUT_SECONDS = Setting(
        float,
        15.0,
        "Seconds a receiver has to answer a delivery (connecting included) before the attempt "
        "counts as failed.",
    )
    RETRY_SCHEDULE = Setting(
        _seconds_list,
        DEFAULT_RETRY_SCHEDULE,
        "Seconds to wait before each retry of a failed delivery; once all are used the "
        "delivery is failed (dead letter).",
    )
    RETRY_JITTER = Setting(
        float,
        0.2,
        "Each wait of the schedule is spread by up to this fraction, up or down, so that "
        "receivers coming back are not hit by every retry at once.",
    )
    CONCURRENCY = Setting(int, 8, "Deliveries one worker sends at once (its threads).")
    PER_ENDPOINT_CONCURRENCY = Setting(
        int,
        4,
        "Deliveries in flight to one endpoint at once, over all workers: a slow receiver "
        "holds at most this many of a worker's threads.",
    )
    POLL_SECONDS = Setting(float, 1.0, "How often an idle worker looks for due deliveries.")
    LEASE_MARGIN_SECONDS = Setting(
        float,
        30.0,
        "A claimed delivery is leased for twice the timeout plus this margin; a worker that "
        "died leaves its lease, and the delivery is claimed again when it ends.",
    )
    CLAIM_BATCH = Setting(int, 100, "Most deliveries one claim takes.")
    SECRET_GRACE_HOURS = Setting(
        float,
        24.0,
        "After a secret rotation the previous secret still signs deliveries (a second "
        "signature in webhook-signature) for this many hours.",
    )
    MAX_PAYLOAD_BYTES = Setting(
        int,
        20 * 1024,
        "A larger body is sent by reference: its data replaced by a data_ref URL the "
        "receiver fetches with the token it carries.",
    )
    DATA_REF_SECONDS = Setting(
        int, 86400, "Seconds a data_ref URL's token stays valid after the attempt sending it."
    )
    RESPONSE_EXCERPT_BYTES = Setting(
        int, 1024, "Bytes of a receiver's answer kept in the delivery log."
    )
    USER_AGENT = Setting(str, "CIAM-Webhooks/1.0", "The User-Agent header of every delivery.")
    FORMATTERS = Setting(
        _formatters,
        DEFAULT_FORMATTERS,
        "Endpoint kind -> dotted path of the function building its request, called as "
        "``f(endpoint=..., event=..., delivery=...)`` and returning an OutgoingRequest, or "
        "None when the receiver may see nothing of the event (the delivery is skipped).",
    )


app_settings = AppSettings()
