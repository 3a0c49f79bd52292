"""How a delivery is put on the wire, per endpoint kind (setting CIAM_WEBHOOKS_FORMATTERS).

A formatter is called by the worker just before each attempt, as
``f(endpoint=..., event=..., delivery=...)``, and returns the ``OutgoingRequest`` to POST, or
None when the receiver may see nothing of the event (the delivery is then skipped). Building
the body at send time means data the customer stopped consenting to after the event was
written is not sent (events.selectors.event_envelope projects it with today's consent).

``standard_webhook_request`` is Standard Webhooks 1.0: the CloudEvents 1.0 JSON envelope
(structured mode) signed with the ``standardwebhooks`` package. ``webhook-id`` is the
event's id, stable across retries and replays: receivers deduplicate on it (at-least-once
delivery). A body over ``CIAM_WEBHOOKS_MAX_PAYLOAD_BYTES`` (20 KB) is sent by reference:
its ``data`` becomes ``{"data_ref": URL, ...}`` and ``GET URL`` (webhooks/views.py) answers
the full envelope to whoever holds the token in the URL, which only this endpoint's secret
can make.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from .app_settings import app_settings
from .models import Delivery, Endpoint
from .services.secrets import endpoint_signing_secrets

DATA_REF_PATH = "/api/events/"


@dataclass(frozen=True)
class OutgoingRequest:
    """A request body and its headers (the worker adds User-Agent; Content-Type is the
    formatter's to set)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def envelope_for(*, endpoint: Endpoint, event: Any) -> dict[str, Any] | None:
    """The CloudEvents envelope of ``event`` as ``endpoint`` may see it (its purposes and
    scopes, its application's subject), or None."""
    from events.selectors import event_envelope

    return event_envelope(
        event,
        purposes=list(endpoint.purposes or []),
        scopes=list(endpoint.scopes or []),
        application=endpoint.application,
    )


def envelope_bytes(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- data by reference ------------------------------------------------------------------


def _ref_mac(secret: str, *, event_id: str, endpoint_id: int, expires: int) -> str:
    key = hashlib.sha256(b"ciam.webhooks.data-ref:" + secret.encode("utf-8")).digest()
    message = f"{event_id}.{endpoint_id}.{expires}".encode("ascii")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def data_ref_url(*, endpoint: Endpoint, event: Any, now: float | None = None) -> str:
    """``<issuer>/api/events/<event_id>?endpoint=..&expires=..&token=..``: the token is an
    HMAC under the endpoint's current secret, valid ``CIAM_WEBHOOKS_DATA_REF_SECONDS``."""
    expires = int(now if now is not None else time.time()) + app_settings.DATA_REF_SECONDS
    event_id = str(event.event_id)
    token = _ref_mac(endpoint.secret, event_id=event_id, endpoint_id=endpoint.pk, expires=expires)
    query = urlencode({"endpoint": endpoint.pk, "expires": expires, "token": token})
    return f"{settings.CIAM_ISSUER}{DATA_REF_PATH}{event_id}?{query}"


def data_ref_token_valid(
    *, endpoint: Endpoint, event_id: str, expires: int, token: str, now: float | None = None
) -> bool:
    """Whether ``token`` was made by ``data_ref_url`` for this endpoint and event, with one
    of the secrets signing now, and has not expired."""
    if expires < int(now if now is not None else time.time()):
        return False
    return any(
        hmac.compare_digest(
            _ref_mac(secret, event_id=event_id, endpoint_id=endpoint.pk, expires=expires),
            token,
        )
        for secret in endpoint_signing_secrets(endpoint)
    )


def by_reference(envelope: dict[str, Any], *, endpoint: Endpoint, event: Any) -> dict[str, Any]:
    """``envelope`` with its data replaced by a reference to it."""
    full_size = len(envelope_bytes(envelope))
    return {
        **envelope,
        "data": {"data_ref": data_ref_url(endpoint=endpoint, event=event), "size": full_size},
    }


# --- Standard Webhooks 1.0 --------------------------------------------------------------


def standard_webhook_headers(
    *, endpoint: Endpoint, msg_id: str, body: bytes, at: datetime | None = None
) -> dict[str, str]:
    """webhook-id, webhook-timestamp, webhook-signature (``v1,<base64 HMAC-SHA256>`` per
    signing secret, space-separated) and Content-Type."""
    from standardwebhooks.webhooks import Webhook

    moment = (at or datetime.now(tz=UTC)).astimezone(UTC)
    payload = body.decode("utf-8")
    signatures = [
        Webhook(secret).sign(msg_id=msg_id, timestamp=moment, data=payload)
        for secret in endpoint_signing_secrets(endpoint)
    ]
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def standard_webhook_request(
    *, endpoint: Endpoint, event: Any, delivery: Delivery
) -> OutgoingRequest | None:
    """The formatter of ``webhook`` endpoints."""
    envelope = envelope_for(endpoint=endpoint, event=event)
    if envelope is None:
        return None
    body = envelope_bytes(envelope)
    if len(body) > app_settings.MAX_PAYLOAD_BYTES:
        body = envelope_bytes(by_reference(envelope, endpoint=endpoint, event=event))
    msg_id = str(event.event_id)
    return OutgoingRequest(
        body=body, headers=standard_webhook_headers(endpoint=endpoint, msg_id=msg_id, body=body)
    )
