"""Stream management (SSF 1.0 8): what receivers ask of the configuration, status, subject
and verification endpoints. Every refusal is an ``ApiError`` (ciam/api.py) with the HTTP
status SSF 1.0 names for it; ssf/views.py turns it into JSON.

A stream's push endpoint (SSF 1.0 6.1.1, RFC 8935) is a ``webhooks.Endpoint`` of kind
``ssf``: its URL and the Authorization header the receiver asked for, listening to the
outbox event types behind the stream's ``events_delivered`` and active only while the
stream is enabled. Only https URLs are accepted here (http too with
``CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES`` or ``DEBUG``), their host IDNA-encoded; the SSRF
guard (sessions_ctx/outbound.py) checks the address at each push.

A status an operator set (paused, disabled) is the transmitter's: the receiver's
POST /ssf/status then answers 403 until an operator enables the stream again. Creations,
deletions and verification requests are counted per client (``CIAM_SSF_MANAGE_RATE_*``):
429 with Retry-After past the limit; ``min_verification_interval`` also holds per client, so
deleting and creating the stream again does not restart it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from oauth2_provider.models import get_application_model

from ciam.api import ApiError, invalid_request
from sessions_ctx import throttle
from sessions_ctx.app_settings import outbound_settings
from webhooks.models import Delivery, DeliveryStatus, Endpoint, EndpointKind

from ..app_settings import app_settings
from ..events import events_delivered_for, outbox_types_for
from ..models import (
    DELIVERY_METHOD_PUSH,
    ControlEventKind,
    SsfControlEvent,
    SsfStream,
    SsfSubject,
    StreamStatus,
    new_stream_id,
)
from ..selectors import (
    stream_document,
    stream_status,
    subject_format_supported,
    subject_user_resolve,
)
from .control import control_event_queue

SCOPE_MANAGE = "ssf:manage"
MAX_EVENTS_REQUESTED = 50
MAX_EVENT_URI_LENGTH = 255
MAX_URL_LENGTH = 2000
MAX_AUTHORIZATION_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 255
MAX_REASON_LENGTH = 255
MAX_STATE_LENGTH = 1024
# SSF 1.0 8.1.1: set by the transmitter; a request may repeat them, only unchanged.
TRANSMITTER_SUPPLIED = (
    "iss",
    "aud",
    "events_supported",
    "events_delivered",
    "min_verification_interval",
)
RATE_COUNTER = "ssf.manage"
VERIFY_COOLDOWN = "ssf.verify"


class RateLimited(ApiError):
    """429 Too Many Requests; ``retry_after``: the seconds to wait (Retry-After)."""

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(429, "too_many_requests", description)
        self.retry_after = max(1, int(retry_after))


def _rate_limit(application: Any) -> None:
    """Count one creation, deletion or verification of ``application``; 429 past
    ``CIAM_SSF_MANAGE_RATE_LIMIT`` in the window."""
    limit = app_settings.MANAGE_RATE_LIMIT
    if limit <= 0:
        return
    window = max(app_settings.MANAGE_RATE_WINDOW_SECONDS, 1)
    key = throttle.counter(RATE_COUNTER, f"app:{application.pk}")
    wait = throttle.retry_after([throttle.Limit(key, limit, window)])
    if wait:
        raise RateLimited(
            f"At most {limit} stream creations, deletions and verifications every {window} "
            "seconds.",
            retry_after=wait,
        )
    throttle.hit(key, window=window)


def _visible_ascii(value: str) -> bool:
    # RFC 9110 5.5 field-value: visible ASCII, spaces and tabs inside, none leading.
    return all(" " <= character <= "~" or character == "\t" for character in value) and (
        not value or value[0] not in " \t"
    )


def _plain_http_allowed() -> bool:
    return bool(outbound_settings.ALLOW_PRIVATE_ADDRESSES or settings.DEBUG)


def _ascii_url(url: str) -> str | None:
    """``url`` with its host IDNA-encoded (RFC 5891), or None when it cannot be."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.isascii():
        return url
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    netloc = encoded if parts.port is None else f"{encoded}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise invalid_request("Send a JSON object.")
    return payload


def _delivery(value: Any) -> tuple[str, str]:
    """(endpoint_url, authorization_header) of a push ``delivery`` (SSF 1.0 6.1.1)."""
    if value is None:
        # SSF 1.0 8.1.1.1: no delivery means poll (RFC 8936), which is not offered here.
        raise invalid_request(
            f"Only push delivery ({DELIVERY_METHOD_PUSH}) is offered: send a delivery object "
            "with its endpoint_url."
        )
    if not isinstance(value, dict):
        raise invalid_request("delivery must be an object.")
    if value.get("method") != DELIVERY_METHOD_PUSH:
        raise invalid_request(f"Only the delivery method {DELIVERY_METHOD_PUSH} is offered.")
    url = value.get("endpoint_url")
    schemes = ("http", "https") if _plain_http_allowed() else ("https",)
    wrong_url = invalid_request(f"delivery.endpoint_url must be an {' or '.join(schemes)} URL.")
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise wrong_url
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
        parts = None
    if (
        parts is None
        or not port_ok
        or parts.scheme not in schemes
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.fragment
        or any(character.isspace() or not character.isprintable() for character in url)
    ):
        raise wrong_url
    ascii_url = _ascii_url(url)
    if ascii_url is None or len(ascii_url) > MAX_URL_LENGTH:
        raise invalid_request("delivery.endpoint_url has a host name that is not valid.")
    authorization = value.get("authorization_header", "")
    if authorization is None:
        authorization = ""
    if (
        not isinstance(authorization, str)
        or len(authorization) > MAX_AUTHORIZATION_LENGTH
        or not _visible_ascii(authorization)
    ):
        raise invalid_request(
            "delivery.authorization_header must be one header value of visible ASCII characters."
        )
    return ascii_url, authorization


def _events_requested(value: Any) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_EVENTS_REQUESTED
        or not all(isinstance(uri, str) and 0 < len(uri) <= MAX_EVENT_URI_LENGTH for uri in value)
    ):
        raise invalid_request(
            f"events_requested must be a list of at most {MAX_EVENTS_REQUESTED} event type URIs."
        )
    return list(dict.fromkeys(value))


def _description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid_request("description must be a string.")
    return value[:MAX_DESCRIPTION_LENGTH]  # SSF 1.0 8.1.1: the transmitter MAY truncate it


def _transmitter_supplied_unchanged(stream: SsfStream, body: dict[str, Any]) -> None:
    """SSF 1.0 8.1.1.3 and 8.1.1.4: transmitter-supplied properties may be sent back, but
    only as they are (events_delivered: as before this update)."""
    current = stream_document(stream)
    for key in TRANSMITTER_SUPPLIED:
        if key in body and body[key] != current.get(key):
            raise invalid_request(f"{key} is set by the transmitter and cannot be changed.")


def _endpoint_sync(stream: SsfStream) -> None:
    endpoint = stream.endpoint
    endpoint.event_types = outbox_types_for(list(stream.events_delivered or []))
    endpoint.active = stream.status == StreamStatus.ENABLED
    # SSF 1.0 8.1.2.1: a paused stream SHOULD hold its events: the webhooks fan-out keeps
    # writing the deliveries of a held endpoint, parked until the stream is enabled.
    endpoint.held = stream.status == StreamStatus.PAUSED
    if endpoint.active:
        endpoint.disabled_reason = ""
        endpoint.disabled_at = None
    endpoint.save()
    if endpoint.active:
        # Deliveries held while the stream was paused go out now, in event order.
        Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
            next_attempt_at=timezone.now()
        )
    elif stream.status == StreamStatus.DISABLED:
        # SSF 1.0 8.1.2.1: a disabled stream holds nothing (held events of a pause go).
        Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED
        )


@transaction.atomic
def stream_create(*, application: Any, payload: Any) -> SsfStream:
    """SSF 1.0 8.1.1.1: a new stream for ``application``; 409 past
    ``CIAM_SSF_MAX_STREAMS_PER_CLIENT``."""
    body = _object(payload)
    _rate_limit(application)
    # One creation at a time per client, so the limit holds under concurrent requests.
    get_application_model().objects.select_for_update().filter(pk=application.pk).first()
    if SsfStream.objects.filter(application=application).count() >= (
        app_settings.MAX_STREAMS_PER_CLIENT
    ):
        raise ApiError(
            409,
            "conflict",
            "This client already has its streams: read them (GET) and update (PATCH) or "
            "replace (PUT) one, or delete one first.",
        )
    url, authorization = _delivery(body.get("delivery"))
    requested = _events_requested(body.get("events_requested"))
    delivered = events_delivered_for(requested)
    stream_id = new_stream_id()
    endpoint = Endpoint.objects.create(
        name=f"SSF stream {stream_id}",
        kind=EndpointKind.SSF,
        url=url,
        application=application,
        event_types=outbox_types_for(delivered),
        authorization=authorization,
        active=True,
    )
    return SsfStream.objects.create(
        stream_id=stream_id,
        application=application,
        endpoint=endpoint,
        aud=application.client_id,
        events_requested=requested,
        events_delivered=delivered,
        description=_description(body.get("description")),
        default_subjects=app_settings.DEFAULT_SUBJECTS,
    )


@transaction.atomic
def stream_update(*, stream: SsfStream, payload: Any, replace: bool) -> SsfStream:
    """SSF 1.0 8.1.1.3 (PATCH: what is sent changes) and 8.1.1.4 (PUT, ``replace``: what is
    not sent is removed; delivery is then required, there being no poll)."""
    body = _object(payload)
    _transmitter_supplied_unchanged(stream, body)
    endpoint = stream.endpoint
    if replace or "delivery" in body:
        endpoint.url, endpoint.authorization = _delivery(body.get("delivery"))
    if replace or "events_requested" in body:
        stream.events_requested = _events_requested(body.get("events_requested"))
        stream.events_delivered = events_delivered_for(stream.events_requested)
    if replace or "description" in body:
        stream.description = _description(body.get("description"))
    stream.save()
    _endpoint_sync(stream)
    return stream


@transaction.atomic
def stream_delete(*, stream: SsfStream, rate_limited: bool = False) -> None:
    """SSF 1.0 8.1.1.5: the stream, its endpoint and its pending deliveries go.
    ``rate_limited``: a receiver's request, counted per client (an operator's is not)."""
    if rate_limited:
        _rate_limit(stream.application)
    stream.endpoint.delete()  # cascades to the stream, its subjects and deliveries


@transaction.atomic
def stream_status_set(
    *, stream: SsfStream, status: Any, reason: Any = None, announce: bool = False
) -> SsfStream:
    """SSF 1.0 8.1.2.2: enable, pause or disable ``stream``. Paused and disabled streams send
    nothing. Events of a paused stream are held (SSF 1.0 8.1.2.1 SHOULD; ssf/receivers.py)
    and sent once it is enabled; those of a disabled stream are dropped (MUST NOT hold).
    ``announce``: the change is the provider's (an operator's), not the receiver's: it is
    remembered (the receiver cannot undo a pause or disabling: 403) and the receiver is told
    with a stream-updated SET (SSF 1.0 8.1.5)."""
    if not announce and stream.status_by_operator:
        raise ApiError(
            403,
            "forbidden",
            "The provider set this stream's status; it cannot be changed by the receiver.",
        )
    if status not in StreamStatus.values:
        raise invalid_request("status must be enabled, paused or disabled.")
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH:
        raise invalid_request(f"reason must be a string of at most {MAX_REASON_LENGTH} characters.")
    before = stream_status(stream)["status"]
    stream.status = status
    stream.reason = reason
    if announce:
        stream.status_by_operator = status != StreamStatus.ENABLED
    stream.save(update_fields=["status", "reason", "status_by_operator", "updated_at"])
    _endpoint_sync(stream)
    if announce and before != status:
        payload = {"status": status, **({"reason": reason} if reason else {})}
        control_event_queue(stream=stream, kind=ControlEventKind.STREAM_UPDATED, payload=payload)
    return stream


def _subject_of(stream: SsfStream, subject: Any) -> tuple[Any, str] | None:
    if not subject_format_supported(subject):
        raise invalid_request("Name the subject by an iss_sub or email identifier (RFC 9493).")
    return subject_user_resolve(stream=stream, subject=subject)


@transaction.atomic
def subject_add(*, stream: SsfStream, subject: Any, verified: Any = None) -> None:
    """SSF 1.0 8.1.3.2. A subject who is not a customer of the stream's client is ignored
    with the same answer (SSF 1.0 9.1: no probing for accounts)."""
    if verified is None:
        verified = True
    if not isinstance(verified, bool):
        raise invalid_request("verified must be true or false.")
    found = _subject_of(stream, subject)
    if found is None:
        return
    user, sub = found
    SsfSubject.objects.update_or_create(
        stream=stream, subject=sub, defaults={"user": user, "added": True, "verified": verified}
    )


@transaction.atomic
def subject_remove(*, stream: SsfStream, subject: Any) -> None:
    """SSF 1.0 8.1.3.3: no more events about ``subject`` on this stream."""
    found = _subject_of(stream, subject)
    if found is None:
        return
    user, sub = found
    SsfSubject.objects.update_or_create(
        stream=stream, subject=sub, defaults={"user": user, "added": False}
    )


@transaction.atomic
def verification_request(*, stream: SsfStream, state: Any = None) -> SsfControlEvent:
    """SSF 1.0 8.1.4.2: send a verification SET echoing ``state``; 429 sooner than
    ``min_verification_interval`` after the previous request."""
    if state is not None and (not isinstance(state, str) or len(state) > MAX_STATE_LENGTH):
        raise invalid_request(f"state must be a string of at most {MAX_STATE_LENGTH} characters.")
    if stream_status(stream)["status"] == StreamStatus.DISABLED:
        raise ApiError(403, "forbidden", "The stream is disabled: nothing is sent on it.")
    _rate_limit(stream.application)
    now = timezone.now()
    interval = app_settings.MIN_VERIFICATION_INTERVAL_SECONDS
    if interval > 0:
        # Per client, in the cache: deleting and creating the stream again keeps the wait.
        key = throttle.counter(VERIFY_COOLDOWN, f"app:{stream.application_id}")
        remaining = throttle.cooldown_start(key, seconds=interval)
        if remaining:
            raise RateLimited(
                f"Ask for a verification at most every {interval} seconds.",
                retry_after=remaining,
            )
    SsfStream.objects.filter(pk=stream.pk).update(verification_requested_at=now)
    payload = {"state": state} if state is not None else {}
    return control_event_queue(stream=stream, kind=ControlEventKind.VERIFICATION, payload=payload)


def streams_endpoint_disabled_announce() -> int:
    """SSF 1.0 8.1.5: tell the receiver of each enabled stream whose push endpoint the
    webhooks worker disabled (the receiver answered 410 Gone) that the stream is disabled,
    once per disabling. Run by ``manage.py ssf_deliver``; returns the streams told."""
    pending = (
        SsfStream.objects.filter(
            status=StreamStatus.ENABLED,
            endpoint__active=False,
            endpoint__disabled_at__isnull=False,
        )
        .filter(
            Q(endpoint_disabled_announced_at__isnull=True)
            | Q(endpoint_disabled_announced_at__lt=F("endpoint__disabled_at"))
        )
        .select_related("endpoint")
    )
    told = 0
    for stream in pending[:100]:
        with transaction.atomic():
            reason = str(stream.endpoint.disabled_reason or "")
            payload = {
                "status": StreamStatus.DISABLED.value,
                **({"reason": reason} if reason else {}),
            }
            control_event_queue(
                stream=stream, kind=ControlEventKind.STREAM_UPDATED, payload=payload
            )
            SsfStream.objects.filter(pk=stream.pk).update(
                endpoint_disabled_announced_at=stream.endpoint.disabled_at
            )
        told += 1
    return told
