"""HTTP endpoints of the OpenID Provider. Thin: validate, call one service, respond."""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import UserInfoView
from oauthlib.common import Request as OAuthlibRequest

from sessions_ctx.constants import ACR_VALUES_SUPPORTED
from sessions_ctx.selectors import session_auth_state
from sessions_ctx.services.logout import session_logout

from .claims import CLAIMS_SUPPORTED
from .http import MalformedRequest, check_single_client_authentication, form_params
from .interaction import (
    PendingAuthorization,
    next_unsatisfied_step,
    pending_discard,
    pending_load,
    pending_save,
)
from .keys import keyring
from .services.authorization import (
    AuthorizationDenied,
    AuthorizationFailed,
    authorization_error_url,
    authorization_issue_code,
    authorization_request_validate,
    language_for_ui_locales,
    oauth_server,
)
from .services.cleanup import maybe_cleanup
from .services.introspection import token_introspection
from .services.logout import LogoutRejected, logout_request_validate
from .services.tokens import token_response

SESSION_KEY_LOGOUT = "ciam.logout"


class ClientRedirect(HttpResponseRedirect):
    """A redirect to a client's registered URI (custom schemes of native apps allowed)."""

    @property
    def allowed_schemes(self) -> list[str]:  # type: ignore[override]
        return list(oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES)


def error_page(
    request: HttpRequest, error: str, description: str = "", status: int = 400
) -> HttpResponse:
    response = render(
        request,
        "ciam/error.html",
        {"error": error, "error_description": description},
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


def _request_params(request: HttpRequest) -> list[tuple[str, str]] | None:
    """The request's parameters, or None when they cannot be read (wrong content type,
    more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS)."""
    try:
        if request.method == "POST":
            if request.content_type != "application/x-www-form-urlencoded":
                return None
            source = request.POST
        else:
            source = request.GET
        return [(key, value) for key, values in source.lists() for value in values]
    except (TooManyFieldsSent, RequestDataTooBig):
        return None


# --- authorization ------------------------------------------------------------------------


def _continue_authorization(request: HttpRequest, pending: PendingAuthorization) -> HttpResponse:
    try:
        step = next_unsatisfied_step(request, pending)
        if step is None:
            url = authorization_issue_code(request=request, pending=pending)
            pending_discard(request, pending.id)
            return ClientRedirect(url)
        if "none" in pending.prompt:
            # OIDC Core 3.1.2.6: no page may be shown; the step's error goes to the client.
            pending_discard(request, pending.id)
            error = step.prompt_none_error_for(request, pending)
            return ClientRedirect(authorization_error_url(pending, error))
    except AuthorizationFailed as failure:
        return error_page(request, failure.error, failure.description, failure.status)
    except AuthorizationDenied as denied:
        pending_discard(request, pending.id)
        return ClientRedirect(denied.url)
    pending_save(request, pending)
    return HttpResponseRedirect(step.url(request, pending))


@csrf_exempt  # relying parties POST here from their own pages (OIDC Core 3.1.2.1)
@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    params = _request_params(request)
    if params is None:
        return error_page(
            request, "invalid_request", _("The authorization request could not be read."), 400
        )
    try:
        pending = authorization_request_validate(params=params)
    except AuthorizationFailed as failure:
        return error_page(request, failure.error, failure.description, failure.status)
    except AuthorizationDenied as denied:
        return ClientRedirect(denied.url)
    if request.method == "POST":
        # A cross-site form post carries no SameSite=Lax session cookie; answering it with a
        # new session would sign the user out. Continue as a top-level GET, which carries it.
        return HttpResponseRedirect(f"{reverse('oidc:authorize')}?{urlencode(params)}", status=303)
    response = _continue_authorization(request, pending)
    language = language_for_ui_locales(pending.ui_locales)
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=settings.LANGUAGE_COOKIE_SECURE,
        )
    return response


@never_cache
@require_GET
def authorize_resume(request: HttpRequest, pending_id: str) -> HttpResponse:
    pending = pending_load(request, pending_id)
    if pending is None:
        return error_page(
            request,
            "request_expired",
            _("This sign-in request has expired. Go back to the application and try again."),
            400,
        )
    return _continue_authorization(request, pending)


# --- tokens -------------------------------------------------------------------------------


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


# --- discovery and keys -------------------------------------------------------------------


@lru_cache(maxsize=1)
def discovery_bytes() -> tuple[bytes, str]:
    issuer = oauth2_settings.OIDC_ISS_ENDPOINT
    origin = "/".join(issuer.split("/")[:3])

    def endpoint(name: str) -> str:
        return origin + reverse(name)

    document = {
        "issuer": issuer,
        "authorization_endpoint": endpoint("oidc:authorize"),
        "token_endpoint": endpoint("oidc:token"),
        "userinfo_endpoint": endpoint("oidc:userinfo"),
        "jwks_uri": endpoint("oidc:jwks"),
        "end_session_endpoint": endpoint("oidc:end-session"),
        "revocation_endpoint": endpoint("oidc:revoke"),
        "introspection_endpoint": endpoint("oidc:introspect"),
        "scopes_supported": list(oauth2_settings.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page", "popup"],
        "acr_values_supported": list(ACR_VALUES_SUPPORTED),
        "ui_locales_supported": ["en", "pt-BR"],
        "claims_locales_supported": ["en", "pt-BR"],
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _cached_json(request: HttpRequest, body: bytes, etag: str, max_age: int) -> HttpResponse:
    if request.META.get("HTTP_IF_NONE_MATCH") == etag:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={max_age}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def discovery(request: HttpRequest) -> HttpResponse:
    body, etag = discovery_bytes()
    return _cached_json(request, body, etag, 3600)


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    ring = keyring()
    return _cached_json(request, ring.jwks_json, ring.jwks_etag, 300)


# --- logout -------------------------------------------------------------------------------


@csrf_exempt  # relying parties may POST the logout request (RP-Initiated Logout 2)
@never_cache
@require_http_methods(["GET", "POST"])
def end_session(request: HttpRequest) -> HttpResponse:
    params = _request_params(request)
    if params is None:
        return error_page(request, "invalid_request", _("Send the sign-out request as a form."))
    try:
        decision = logout_request_validate(params=dict(params))
    except LogoutRejected as rejected:
        return error_page(request, "invalid_request", rejected.description)
    if decision.needs_confirmation:
        request.session[SESSION_KEY_LOGOUT] = {"redirect_url": decision.redirect_url}
        return render(
            request,
            "ciam/logout_confirm.html",
            {"client_name": decision.client_name},
        )
    session_logout(request=request)
    if decision.redirect_url:
        return ClientRedirect(decision.redirect_url)
    return HttpResponseRedirect(reverse("oidc:logged-out"))


@never_cache
@require_POST
def end_session_confirm(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(SESSION_KEY_LOGOUT, None) or {}
    if request.POST.get("confirm") != "yes":
        return HttpResponseRedirect(reverse("home"))
    session_logout(request=request)
    if pending.get("redirect_url"):
        return ClientRedirect(pending["redirect_url"])
    return HttpResponseRedirect(reverse("oidc:logged-out"))


@require_GET
def logged_out(request: HttpRequest) -> HttpResponse:
    return render(request, "ciam/logged_out.html", {})


@require_GET
def brand_css(request: HttpRequest) -> HttpResponse:
    """CSS custom properties from the CIAM_BRAND_* settings (no inline styles under CSP)."""
    body, etag = _brand_css_bytes()
    response = _cached_json(request, body, etag, 3600)
    response["Content-Type"] = "text/css; charset=utf-8"
    return response


@lru_cache(maxsize=1)
def _brand_css_bytes() -> tuple[bytes, str]:
    color = settings.CIAM_BRAND_COLOR
    if not re.fullmatch(r"#[0-9a-fA-F]{3,8}", color):
        color = "#1f5fbf"
    body = f":root {{ --brand-color: {color}; }}\n".encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "ciam/home.html", {"auth_state": session_auth_state(request)})


@never_cache
@require_GET
def demo_callback(request: HttpRequest) -> HttpResponse:
    """Landing page of the demo client (``setup_demo``): shows the code and how to redeem it."""
    if not settings.CIAM_DEMO:
        return error_page(request, "not_found", _("The demo is not enabled."), 404)
    return render(
        request,
        "ciam/demo_callback.html",
        {
            "code": request.GET.get("code", "")[:512],
            "state": request.GET.get("state", "")[:512],
            "error": request.GET.get("error", "")[:128],
            "error_description": request.GET.get("error_description", "")[:512],
            "token_endpoint": oauth2_settings.OIDC_ISS_ENDPOINT + reverse("oidc:token"),
            "redirect_uri": oauth2_settings.OIDC_ISS_ENDPOINT + reverse("oidc:demo-callback"),
        },
    )
