"""Back-channel endpoints called by clients' servers: token (RFC 6749 3.2), UserInfo (OIDC
Core 5.3), revocation (RFC 7009) and introspection (RFC 7662). They read no session, cookie or
CSRF token (ciam/fastpath.py serves them with CIAM_BACKCHANNEL_MIDDLEWARE)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.views import UserInfoView
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.common import urldecode

from ..http import MalformedRequest, check_single_client_authentication, form_params
from ..services.authorization import oauth_server
from ..services.cleanup import maybe_cleanup
from ..services.introspection import token_introspection
from ..services.tokens import token_response


def _oauth_response(headers: dict[str, str], body: str, status: int) -> HttpResponse:
    response = HttpResponse(content=body or "", status=status)
    for key, value in headers.items():
        response[key] = value
    response["Content-Type"] = "application/json"
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    if status == 401:
        # RFC 6749 5.2: invalid_client after HTTP Basic authentication answers 401 with it.
        response["WWW-Authenticate"] = 'Basic realm="token", error="invalid_client"'
    return response


def _malformed(description: str) -> HttpResponse:
    return _oauth_response(
        {}, json.dumps({"error": "invalid_request", "error_description": description}), 400
    )


def _backchannel_params(request: HttpRequest) -> tuple[list[tuple[str, str]], str]:
    """Strictly parsed body parameters and the same, re-encoded for oauthlib."""
    params = form_params(request)
    check_single_client_authentication(request, params)
    return params, urlencode(params)


def _oauthlib_headers(request: HttpRequest) -> dict[str, str]:
    headers = {
        key: value
        for key, value in request.META.items()
        if isinstance(value, str) and key.startswith(("HTTP_", "CONTENT_"))
    }
    if "HTTP_AUTHORIZATION" in headers:
        headers["Authorization"] = headers["HTTP_AUTHORIZATION"]
    return headers


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(View):
    """RFC 6749 3.2 token endpoint (authorization_code, refresh_token, client_credentials)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            params, body = _backchannel_params(request)
        except MalformedRequest as malformed:
            return _malformed(malformed.description)
        grant_type = dict(params).get("grant_type")
        if not grant_type:
            return _malformed("grant_type is missing.")
        response_headers, response_body, status = token_response(
            uri=request.build_absolute_uri(),
            body=body,
            headers=_oauthlib_headers(request),
            grant_type=grant_type,
        )
        if status == 200:
            maybe_cleanup()
        return _oauth_response(response_headers, response_body, status)


def _oauthlib_reads_query(request: HttpRequest) -> bool:
    """Whether oauthlib can parse the query of the URL DOT's UserInfo view hands it: it
    raises ValueError (a 500) for an invalid percent-escape or a character outside
    ``application/x-www-form-urlencoded`` such as ``[`` (which Django leaves unescaped)."""
    try:
        urldecode(urlsplit(request.build_absolute_uri()).query)
    except ValueError:
        return False
    return True


@method_decorator(csrf_exempt, name="dispatch")
class UserInfo(UserInfoView):
    """OIDC Core 5.3: GET and POST, Bearer token in the header or (POST) in the body."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        in_header = request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer ")
        if "access_token" in request.GET:
            # RFC 9700 4.3.2: access tokens never travel in the query string.
            response = JsonResponse(
                {
                    "error": "invalid_request",
                    "error_description": "Send the access token in the Authorization header.",
                },
                status=400,
            )
        elif not _oauthlib_reads_query(request):
            response = JsonResponse(
                {
                    "error": "invalid_request",
                    "error_description": "The query string is not URL-encoded.",
                },
                status=400,
            )
        elif in_header and request.method == "POST" and "access_token" in request.POST:
            # RFC 6750 2: one method per request.
            response = JsonResponse(
                {"error": "invalid_request", "error_description": "Send the token once."},
                status=400,
            )
            response["WWW-Authenticate"] = 'Bearer error="invalid_request"'
        else:
            response = super().dispatch(request, *args, **kwargs)
            if response.content.startswith(b"{"):
                response["Content-Type"] = "application/json"
        response["Cache-Control"] = "no-store"
        return response


@method_decorator(csrf_exempt, name="dispatch")
class Revoke(View):
    """RFC 7009 revocation; 200 for unknown tokens, only the caller's own are revoked."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            _params, body = _backchannel_params(request)
        except MalformedRequest as malformed:
            return _malformed(malformed.description)
        response_headers, response_body, status = oauth_server().create_revocation_response(
            request.build_absolute_uri(), "POST", body, _oauthlib_headers(request)
        )
        response = _oauth_response(response_headers, response_body or "", status)
        if status == 401:
            response["WWW-Authenticate"] = 'Basic realm="revoke", error="invalid_client"'
        return response


@csrf_exempt
@require_POST
def introspect(request: HttpRequest) -> HttpResponse:
    """RFC 7662 introspection, for authenticated confidential clients."""
    try:
        params, body = _backchannel_params(request)
    except MalformedRequest as malformed:
        return _malformed(malformed.description)
    client_request = OAuthlibRequest(
        request.build_absolute_uri(), "POST", body, _oauthlib_headers(request)
    )
    validator = oauth_server().request_validator
    # Only confidential clients introspect: a public client_id proves nothing (RFC 7662 2.1).
    if (
        not validator.authenticate_client(client_request)
        or client_request.client.client_type != client_request.client.CLIENT_CONFIDENTIAL
    ):
        return _oauth_response({}, json.dumps({"error": "invalid_client"}), 401)
    values = dict(params)
    if not values.get("token"):
        return _malformed("token is missing.")
    data = token_introspection(token=values["token"], hint=values.get("token_type_hint", ""))
    return _oauth_response({}, json.dumps(data), 200)
