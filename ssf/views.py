"""Shared Signals endpoints: the transmitter configuration (SSF 1.0 7) and the stream
management API (SSF 1.0 8) under /ssf/.

The management endpoints are back-end APIs (ciam/api.py, served by ciam/fastpath.py without
session or CSRF): a Bearer access token from ``client_credentials`` with ``ssf:manage``
(SSF 1.0 7.1.1 authorization_schemes: RFC 6749). A client sees and manages only its own
streams: another client's stream_id is unknown to it (404). Errors are JSON,
``{"error": code, "error_description": text}``, with SSF 1.0 8's status codes.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ciam.api import (
    ApiError,
    api_endpoint,
    error_response,
    invalid_request,
    json_body,
    json_response,
    method_not_allowed_response,
    not_found_response,
)

from .models import SsfStream
from .selectors import (
    stream_document,
    stream_of,
    stream_status,
    streams_of,
    transmitter_configuration,
)
from .services.streams import (
    SCOPE_MANAGE,
    RateLimited,
    stream_create,
    stream_delete,
    stream_status_set,
    stream_update,
    subject_add,
    subject_remove,
    verification_request,
)

REALM = "ssf"
MAX_BODY_BYTES = 16 * 1024


def _empty(status: int) -> HttpResponse:
    response = HttpResponse(status=status)
    response["Cache-Control"] = "no-store"
    return response


def _no_nul(value: Any, depth: int = 0) -> None:
    """400 for a NUL character in any string of the request (PostgreSQL refuses them)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid_request("Strings may not contain NUL characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, depth + 1)
            _no_nul(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item, depth + 1)


def _query(request: HttpRequest) -> None:
    for key, values in request.GET.lists():
        _no_nul(key)
        for value in values:
            _no_nul(value)


def _stream(client: Any, stream_id: Any) -> SsfStream:
    if stream_id is None or stream_id == "":
        raise invalid_request("Name the stream with stream_id.")
    if not isinstance(stream_id, str):
        raise invalid_request("stream_id must be a string.")
    stream = stream_of(client, stream_id)
    if stream is None:
        raise ApiError(404, "not_found", "This client has no stream with this stream_id.")
    return stream


def _body(request: HttpRequest) -> dict[str, Any]:
    payload = json_body(request, MAX_BODY_BYTES)
    if not isinstance(payload, dict):
        raise invalid_request("Send a JSON object.")
    _no_nul(payload)
    return payload


def _retry_after(view: Any) -> Any:
    """429s of the rate limits carry Retry-After (RFC 9110 10.2.3)."""

    @wraps(view)
    def wrapped(request: HttpRequest, client: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            _query(request)
            return view(request, client, *args, **kwargs)
        except RateLimited as limited:
            response = error_response(limited, scope=SCOPE_MANAGE, realm=REALM)
            response["Retry-After"] = str(limited.retry_after)
            return response

    return wrapped


def configuration(request: HttpRequest) -> HttpResponse:
    """``GET /.well-known/ssf-configuration`` (SSF 1.0 7.2): public, cacheable."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed_response(("GET",))
    response = JsonResponse(transmitter_configuration())
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@api_endpoint(methods=("GET", "POST", "PATCH", "PUT", "DELETE"), scope=SCOPE_MANAGE, realm=REALM)
@_retry_after
def streams(request: HttpRequest, client: Any) -> HttpResponse:
    """``/ssf/streams``: read (one or all), create, update, replace, delete (SSF 1.0 8.1.1)."""
    if request.method == "GET":
        if "stream_id" not in request.GET:
            documents = [stream_document(stream) for stream in streams_of(client)]
            response = HttpResponse(
                json.dumps(documents, ensure_ascii=False), content_type="application/json"
            )
            response["Cache-Control"] = "no-store"
            return response
        return json_response(stream_document(_stream(client, request.GET.get("stream_id"))))
    if request.method == "DELETE":
        stream_delete(stream=_stream(client, request.GET.get("stream_id")), rate_limited=True)
        return _empty(204)
    body = _body(request)
    if request.method == "POST":
        return json_response(stream_document(stream_create(application=client, payload=body)), 201)
    stream = _stream(client, body.get("stream_id"))
    updated = stream_update(stream=stream, payload=body, replace=request.method == "PUT")
    return json_response(stream_document(updated))


@api_endpoint(methods=("GET", "POST"), scope=SCOPE_MANAGE, realm=REALM)
@_retry_after
def status(request: HttpRequest, client: Any) -> HttpResponse:
    """``/ssf/status``: read (GET ?stream_id=) or set (POST) a stream's status (8.1.2); 403
    when an operator set it."""
    if request.method == "GET":
        return json_response(stream_status(_stream(client, request.GET.get("stream_id"))))
    body = _body(request)
    stream = _stream(client, body.get("stream_id"))
    if "status" not in body:
        raise invalid_request("Send the new status.")
    updated = stream_status_set(stream=stream, status=body["status"], reason=body.get("reason"))
    return json_response(stream_status(updated))


@api_endpoint(methods=("POST",), scope=SCOPE_MANAGE, realm=REALM)
@_retry_after
def subjects_add(request: HttpRequest, client: Any) -> HttpResponse:
    """``POST /ssf/subjects:add`` (8.1.3.2): an empty 200, for customers of the client and
    for anyone else alike."""
    body = _body(request)
    stream = _stream(client, body.get("stream_id"))
    if "subject" not in body:
        raise invalid_request("Send the subject.")
    subject_add(stream=stream, subject=body["subject"], verified=body.get("verified"))
    return _empty(200)


@api_endpoint(methods=("POST",), scope=SCOPE_MANAGE, realm=REALM)
@_retry_after
def subjects_remove(request: HttpRequest, client: Any) -> HttpResponse:
    """``POST /ssf/subjects:remove`` (8.1.3.3): 204."""
    body = _body(request)
    stream = _stream(client, body.get("stream_id"))
    if "subject" not in body:
        raise invalid_request("Send the subject.")
    subject_remove(stream=stream, subject=body["subject"])
    return _empty(204)


@api_endpoint(methods=("POST",), scope=SCOPE_MANAGE, realm=REALM)
@_retry_after
def verify(request: HttpRequest, client: Any) -> HttpResponse:
    """``POST /ssf/verify`` (8.1.4.2): a verification SET is owed (pushed by ``manage.py
    ssf_deliver``, never inside this request); 204. A disabled stream: 403."""
    body = _body(request)
    stream = _stream(client, body.get("stream_id"))
    verification_request(stream=stream, state=body.get("state"))
    return _empty(204)


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under /ssf/: a JSON 404, like every answer of this API."""
    return not_found_response()
