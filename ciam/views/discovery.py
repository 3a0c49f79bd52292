"""Discovery (OpenID Connect Discovery 1.0) and the signing keys (RFC 7517), served from
precomputed bytes (ciam/fastpath.py answers with the same bytes before Django's machinery)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.views.decorators.http import require_GET
from oauth2_provider.settings import oauth2_settings

from sessions_ctx.constants import ACR_VALUES_SUPPORTED

from ..claims import CLAIMS_SUPPORTED
from ..keys import keyring
from ..subjects import SUBJECT_TYPES_SUPPORTED


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
        "subject_types_supported": list(SUBJECT_TYPES_SUPPORTED),
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
        # OIDC Front-Channel Logout 1.0 3 (ciam/services/frontchannel_logout.py).
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        # OIDC Back-Channel Logout 1.0 2.1 (ciam/services/backchannel_logout.py).
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def cached_response(request: HttpRequest, body: bytes, etag: str, max_age: int) -> HttpResponse:
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
    return cached_response(request, body, etag, 3600)


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    ring = keyring()
    return cached_response(request, ring.jwks_json, ring.jwks_etag, 300)
