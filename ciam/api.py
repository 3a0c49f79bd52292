"""The toolkit of the back-end APIs (consent/api.py, profiling/api.py): Bearer tokens of
machine clients, customer references, JSON answers and errors.

Back ends call these APIs with a ``client_credentials`` access token in the Authorization
header (RFC 6750 2.1). ciam/fastpath.py serves them with the back-channel middleware (no
session, cookie, CSRF token or language). Every answer is JSON, sent with
``Cache-Control: no-store``, errors included: ``{"error": code, "error_description": text}``.
A view raises ``ApiError``; ``api_endpoint`` turns it into that answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .services.authorization import oauth_server

MAX_REFERENCE_LENGTH = 320  # an email address is at most 254 characters (RFC 5321 4.5.3.1)

ApiView = Callable[..., HttpResponse]


class ApiError(Exception):
    """A refused API call: ``status``, ``error`` code and a description for the developer;
    ``details``: more members of the JSON error (``fields`` of a refused profile)."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.details = dict(details or {})


class TokenMissing(ApiError):
    """No Bearer token at all: RFC 6750 3.1 answers with the challenge but no error code."""

    def __init__(self) -> None:
        super().__init__(
            401, "invalid_token", "Send a Bearer access token in the Authorization header."
        )


def invalid_request(description: str) -> ApiError:
    return ApiError(400, "invalid_request", description)


# --- the caller -----------------------------------------------------------------------------


def api_client_authenticate(*, request: HttpRequest, scope: str) -> Any:
    """The machine client whose Bearer access token (RFC 6750 2.1, header only) carries
    ``scope``; ``ApiError`` 401 ``invalid_token`` (no, unknown, expired or revoked token) or
    403 ``insufficient_scope``.

    The token is validated by django-oauth-toolkit (the validator's ``validate_bearer_token``,
    one prepared query). Only machine clients can hold the APIs' scopes (the validator
    refuses them to clients acting for a user: ``MACHINE_SCOPES``).
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise TokenMissing()
    valid, oauth_request = oauth_server().verify_request(
        request.build_absolute_uri(request.path),
        "GET",
        "",
        {"Authorization": f"Bearer {parts[1]}"},
        scopes=[],
    )
    if not valid or oauth_request is None or oauth_request.client is None:
        raise ApiError(401, "invalid_token", "The access token is unknown, expired or revoked.")
    if scope not in (oauth_request.scopes or []):
        raise ApiError(403, "insufficient_scope", f"This call needs the {scope} scope.")
    return oauth_request.client


# --- whose data -----------------------------------------------------------------------------


def api_user_resolve(*, reference: str) -> Any:
    """The user named by ``reference``: ``email:<address>`` (the address they sign in with)
    or ``sub:<public subject>`` (``User.public_id``, the ``sub`` of public-subject clients; a
    pairwise ``sub`` cannot be turned back into a user). ``ApiError`` 400 for a malformed
    reference, 404 ``unknown_user`` when nobody matches."""
    kind, separator, value = reference.partition(":")
    if (
        not separator
        or not value
        or len(reference) > MAX_REFERENCE_LENGTH
        or "\x00" in reference
        or kind not in ("email", "sub")
    ):
        raise invalid_request("Name the user as email:<address> or sub:<subject>.")
    User = get_user_model()
    if kind == "email":
        # Addresses are stored lower-case (accounts.models.UserManager).
        user = User.objects.filter(email=value.strip().lower()).first()
    else:
        user = User.objects.filter(public_id=value).first()
    if user is None:
        raise ApiError(404, "unknown_user", "No user matches this reference.")
    return user


# --- answers --------------------------------------------------------------------------------


def api_timestamp(value: datetime) -> str:
    """``value`` as an RFC 3339 UTC timestamp (``2026-12-01T11:55:11.204518Z``)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_response(data: Mapping[str, Any], status: int = 200) -> JsonResponse:
    """A JSON answer (UTF-8 as is, not \\u escapes) that no cache keeps."""
    response = JsonResponse(dict(data), status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def error_response(error: ApiError, *, scope: str, realm: str) -> JsonResponse:
    """The JSON answer of ``error``, with the Bearer challenge of RFC 6750 3 on 401 and 403."""
    response = json_response(
        {
            "error": error.error,
            "error_description": error.description,
            **{k: v for k, v in error.details.items() if k not in ("error", "error_description")},
        },
        error.status,
    )
    if error.status == 401:
        # RFC 6750 3.1: a request without a token gets the challenge but no error code.
        if isinstance(error, TokenMissing):
            response["WWW-Authenticate"] = f'Bearer realm="{realm}"'
        else:
            response["WWW-Authenticate"] = (
                f'Bearer realm="{realm}", error="invalid_token", '
                f'error_description="{error.description}"'
            )
    elif error.status == 403:
        response["WWW-Authenticate"] = (
            f'Bearer realm="{realm}", error="insufficient_scope", scope="{scope}"'
        )
    return response


def method_not_allowed_response(methods: tuple[str, ...]) -> JsonResponse:
    """405 naming the methods the endpoint answers (RFC 9110 15.5.6: with ``Allow``)."""
    response = json_response(
        {"error": "method_not_allowed", "error_description": f"Use {' or '.join(methods)}."},
        405,
    )
    response["Allow"] = ", ".join(methods)
    return response


def not_found_response() -> JsonResponse:
    """404 for a path of no endpoint: JSON, like every answer of the APIs."""
    return json_response({"error": "not_found", "error_description": "No such endpoint."}, 404)


def json_body(request: HttpRequest, max_bytes: int, *, what: str = "body") -> Any:
    """The parsed JSON body of ``request`` (any JSON value: the caller checks its shape);
    ``ApiError`` 400 ``invalid_request`` when it is not ``application/json``, is larger than
    ``max_bytes`` or is not valid UTF-8 JSON. ``what``: the body's name in the message."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise invalid_request(f"Send the {what} as JSON (Content-Type: application/json).")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = max_bytes + 1
    if length > max_bytes:
        raise invalid_request(f"The body is larger than {max_bytes} bytes.")
    body = request.body
    if len(body) > max_bytes:
        raise invalid_request(f"The body is larger than {max_bytes} bytes.")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid_request("The body is not valid JSON.") from None


def api_endpoint(
    *, methods: tuple[str, ...], scope: str, realm: str
) -> Callable[[ApiView], ApiView]:
    """A JSON endpoint for ``methods``: 405 for other methods, then the Bearer token with
    ``scope`` (401/403, challenges naming ``realm``), then the view with the calling client;
    an ``ApiError`` raised by the view becomes its JSON error."""

    def decorate(view: ApiView) -> ApiView:
        @csrf_exempt
        @wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return method_not_allowed_response(methods)
            try:
                if "access_token" in request.GET:
                    # RFC 9700 4.3.2: access tokens never travel in the query string.
                    raise invalid_request("Send the access token in the Authorization header.")
                client = api_client_authenticate(request=request, scope=scope)
                return view(request, client, *args, **kwargs)
            except ApiError as error:
                return error_response(error, scope=scope, realm=realm)

        return endpoint

    return decorate
