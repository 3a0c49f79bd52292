"""The consent API for back ends, under ``/api/consent/`` (README "Consent API").

Machine clients call it with a ``client_credentials`` access token carrying ``consent:read``
or ``consent:write`` (RFC 6750 2.1: in the Authorization header). ciam/fastpath.py serves it
with the back-channel middleware (no session, cookie or CSRF token). Every answer is JSON,
errors included: ``{"error": code, "error_description": text}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .services.api import (
    SCOPE_READ,
    SCOPE_WRITE,
    ApiError,
    TokenMissing,
    api_client_authenticate,
    api_history_read,
    api_record_create,
    api_state_read,
    api_user_resolve,
    invalid_request,
    record_document,
)

MAX_BODY_BYTES = 16 * 1024
REALM = "consent"

ApiView = Callable[..., HttpResponse]


def _json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def _error_response(error: ApiError, scope: str) -> JsonResponse:
    response = _json({"error": error.error, "error_description": error.description}, error.status)
    if error.status == 401:
        # RFC 6750 3.1: a request without a token gets the challenge but no error code.
        if isinstance(error, TokenMissing):
            response["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
        else:
            response["WWW-Authenticate"] = (
                f'Bearer realm="{REALM}", error="invalid_token", '
                f'error_description="{error.description}"'
            )
    elif error.status == 403:
        response["WWW-Authenticate"] = (
            f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
        )
    return response


def api_endpoint(*, methods: tuple[str, ...], scope: str) -> Callable[[ApiView], ApiView]:
    """A JSON endpoint for ``methods``: 405 for other methods, then the Bearer token with
    ``scope`` (401/403), then the view with the calling client; an ``ApiError`` raised by the
    view becomes its JSON error."""

    def decorate(view: ApiView) -> ApiView:
        @csrf_exempt
        @wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = _json(
                    {
                        "error": "method_not_allowed",
                        "error_description": f"Use {' or '.join(methods)}.",
                    },
                    405,
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                if "access_token" in request.GET:
                    # RFC 9700 4.3.2: access tokens never travel in the query string.
                    raise invalid_request("Send the access token in the Authorization header.")
                client = api_client_authenticate(request=request, scope=scope)
                return view(request, client, *args, **kwargs)
            except ApiError as error:
                return _error_response(error, scope)

        return endpoint

    return decorate


@api_endpoint(methods=("GET",), scope=SCOPE_READ)
def user_state(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``GET /api/consent/users/<ref>``: the user's standing decision per purpose."""
    user = api_user_resolve(reference=user_ref)
    return _json({"user": user_ref, **api_state_read(user=user)})


@api_endpoint(methods=("GET",), scope=SCOPE_READ)
def user_history(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``GET /api/consent/users/<ref>/history``: ledger records, newest first, by page."""
    user = api_user_resolve(reference=user_ref)
    page = api_history_read(
        user=user, cursor=request.GET.get("cursor"), limit=request.GET.get("limit")
    )
    return _json({"user": user_ref, **page})


def _json_body(request: HttpRequest) -> Any:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise invalid_request("Send the record as JSON (Content-Type: application/json).")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = MAX_BODY_BYTES + 1
    if length > MAX_BODY_BYTES:
        raise invalid_request(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid_request("The body is not valid JSON.") from None


@api_endpoint(methods=("POST",), scope=SCOPE_WRITE)
def user_records(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``POST /api/consent/users/<ref>/records``: append a decision; 201 with the record
    and its signed receipt."""
    user = api_user_resolve(reference=user_ref)
    payload = _json_body(request)
    created = api_record_create(user=user, client=client, payload=payload)
    return _json({"record": record_document(created.record), "receipt": created.receipt}, 201)


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under /api/consent/: a JSON 404, like every answer of this API."""
    return _json({"error": "not_found", "error_description": "No such endpoint."}, 404)
