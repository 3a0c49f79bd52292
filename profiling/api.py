"""The profile API for back ends, under ``/api/profile/`` (README "Profile API").

Machine clients call it with a ``client_credentials`` access token carrying ``profile:read``
or ``profile:write`` (RFC 6750 2.1: in the Authorization header). ciam/fastpath.py serves it
with the back-channel middleware (no session, cookie or CSRF token). Every answer is JSON,
errors included: ``{"error": code, "error_description": text}`` (the toolkit: ciam/api.py).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ciam.api import (
    api_endpoint,
    api_user_resolve,
    json_body,
    json_response,
    method_not_allowed_response,
    not_found_response,
)

from .services.api import (
    SCOPE_READ,
    SCOPE_WRITE,
    api_profile_read,
    api_profile_update,
    api_schema_read,
)

MAX_BODY_BYTES = 64 * 1024
REALM = "profile"
USER_METHODS = ("GET", "PATCH")


@api_endpoint(methods=("GET",), scope=SCOPE_READ, realm=REALM)
def schema(request: HttpRequest, client: Any) -> HttpResponse:
    """``GET /api/profile/schema``: the active fields of the schema, in their order."""
    return json_response(api_schema_read())


@api_endpoint(methods=("GET",), scope=SCOPE_READ, realm=REALM)
def user_read(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``GET /api/profile/users/<ref>``: the customer's values with their provenance."""
    user = api_user_resolve(reference=user_ref)
    return json_response({"user": user_ref, **api_profile_read(user=user)})


@api_endpoint(methods=("PATCH",), scope=SCOPE_WRITE, realm=REALM)
def user_update(request: HttpRequest, client: Any, user_ref: str) -> HttpResponse:
    """``PATCH /api/profile/users/<ref>``: change values (null removes one), validated by
    the schema; answered with the new profile."""
    user = api_user_resolve(reference=user_ref)
    payload = json_body(request, MAX_BODY_BYTES, what="changes")
    document = api_profile_update(user=user, client=client, payload=payload)
    return json_response({"user": user_ref, **document})


@csrf_exempt
def user_profile(request: HttpRequest, user_ref: str) -> HttpResponse:
    """``/api/profile/users/<ref>``: GET reads (profile:read), PATCH writes (profile:write)."""
    if request.method == "GET":
        return user_read(request, user_ref)
    if request.method == "PATCH":
        return user_update(request, user_ref)
    return method_not_allowed_response(USER_METHODS)


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under /api/profile/: a JSON 404, like every answer of this API."""
    return not_found_response()
