"""``GET /api/events/<event_id>``: the full envelope of an event sent by reference.

A webhook body over 20 KB carries ``data.data_ref``, this URL with ``endpoint``, ``expires``
and ``token`` in its query (formats.data_ref_url): an HMAC only the endpoint's signing
secret makes. The answer is the envelope as that endpoint may see it today (its purposes
and scopes, the customer's current consent). Served as a back-end API (ciam/fastpath.py):
every answer JSON, errors ``{"error", "error_description"}``, never cached.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ciam.api import (
    ApiError,
    invalid_request,
    json_response,
    method_not_allowed_response,
    not_found_response,
)

from .formats import data_ref_token_valid, envelope_for
from .models import Delivery, Endpoint

MAX_TOKEN_LENGTH = 100


def _error(error: ApiError) -> HttpResponse:
    return json_response(
        {"error": error.error, "error_description": error.description}, error.status
    )


def _event_for(request: HttpRequest, event_id: str) -> dict[str, Any]:
    try:
        parsed_id = uuid.UUID(event_id)
        endpoint_pk = int(request.GET.get("endpoint", ""))
        expires = int(request.GET.get("expires", ""))
    except (ValueError, OverflowError):
        raise invalid_request(
            "Use the data_ref URL as it was sent: endpoint, expires and token."
        ) from None
    token = request.GET.get("token", "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise invalid_request("Use the data_ref URL as it was sent: endpoint, expires and token.")
    refused = ApiError(403, "invalid_token", "The token is wrong or has expired.")
    endpoint = Endpoint.objects.select_related("application").filter(pk=endpoint_pk).first()
    if endpoint is None or not data_ref_token_valid(
        endpoint=endpoint, event_id=str(parsed_id), expires=expires, token=token
    ):
        raise refused
    delivery = (
        Delivery.objects.select_related("event", "event__user")
        .filter(endpoint=endpoint, event__event_id=parsed_id)
        .first()
    )
    if delivery is None:
        raise ApiError(404, "unknown_event", "This endpoint was sent no such event.")
    envelope = envelope_for(endpoint=endpoint, event=delivery.event)
    if envelope is None:
        raise ApiError(404, "unknown_event", "This endpoint may no longer see this event.")
    return envelope


@csrf_exempt
def event_by_reference(request: HttpRequest, event_id: str) -> HttpResponse:
    """The envelope behind a ``data_ref``."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed_response(("GET",))
    try:
        return json_response(_event_for(request, event_id))
    except ApiError as error:
        return _error(error)


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under /api/events/: a JSON 404."""
    return not_found_response()
