"""The consent API for back ends, under ``/api/consent/`` (README "Consent API").

Machine clients call it with a ``client_credentials`` access token carrying ``consent:read``
or ``consent:write`` (RFC 6750 2.1: in the Authorization header). ciam/fastpath.py serves it
with the back-channel middleware (no session, cookie or CSRF token). Every answer is JSON,
errors included: ``{"error": code, "error_description": text}`` (the toolkit: ciam/api.py).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ciam.api import api_endpoint, api_user_resolve, json_body, json_response, not_found_response

from .services.api import (
    SCOPE_READ,
    SCOPE_WRITE,
    api_history_read,
    api_record_create,
    api_state_read,
    record_document,
)

MAX_BODY_BYTES = 16 * 1024
REALM = "consent"


@api_endpoint(methods=("GET",), scope=SCOPE_READ, realm=REALM)
def user_state(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``GET /api/consent/users/<ref>``: the user's standing decision per purpose."""
    user = api_user_resolve(reference=user_ref)
    return json_response({"user": user_ref, **api_state_read(user=user)})


@api_endpoint(methods=("GET",), scope=SCOPE_READ, realm=REALM)
def user_history(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``GET /api/consent/users/<ref>/history``: ledger records, newest first, by page."""
    user = api_user_resolve(reference=user_ref)
    page = api_history_read(
        user=user, cursor=request.GET.get("cursor"), limit=request.GET.get("limit")
    )
    return json_response({"user": user_ref, **page})


@api_endpoint(methods=("POST",), scope=SCOPE_WRITE, realm=REALM)
def user_records(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``POST /api/consent/users/<ref>/records``: append a decision; 201 with the record
    and its signed receipt."""
    user = api_user_resolve(reference=user_ref)
    payload = json_body(request, MAX_BODY_BYTES, what="record")
    created = api_record_create(user=user, client=client, payload=payload)
    return json_response(
        {"record": record_document(created.record), "receipt": created.receipt}, 201
    )


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under /api/consent/: a JSON 404, like every answer of this API."""
    return not_found_response()
