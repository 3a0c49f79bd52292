"""Authorization requests: validate once, run the interaction steps, issue the code."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.utils.translation import get_supported_language_variant
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2 import FatalClientError, OAuth2Error

from sessions_ctx.selectors import session_auth_state

from ..interaction import PendingAuthorization, pending_new
from ..interaction.pending import claims_request_parse
from ..interaction.responses import error_redirect_url, with_issuer
from ..oauth.state import oauth_credentials

MAX_PARAMETER_LENGTH = 4096
MAX_QUERY_LENGTH = 16384
SUPPORTED_RESPONSE_MODES = ("query",)
TRUSTED_PARAMETERS = frozenset({"client_id", "redirect_uri"})
PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


class AuthorizationFailed(Exception):
    """The request cannot be answered at the client's redirect_uri: show an error page."""

    def __init__(self, error: str, description: str = "", status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status


class AuthorizationDenied(Exception):
    """The request ends with an error sent to the (validated) redirect_uri."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


@lru_cache(maxsize=1)
def oauth_server() -> Any:
    """One oauthlib server per process, built from DOT's settings."""
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    server = oauth2_settings.OAUTH2_SERVER_CLASS(validator, **oauth2_settings.server_kwargs)
    # RFC 9700 2.4: no resource owner password grant. Removing it (rather than refusing the
    # client later) also stops the token endpoint from revealing whether a password is right.
    for grant_type in ("password", "urn:ietf:params:oauth:grant-type:device_code"):
        server.grant_types.pop(grant_type, None)
    return server


def _oauthlib_error_url(error: OAuth2Error, state: str) -> str:
    return error_redirect_url(
        error.redirect_uri, error.error, error.description or "", state or error.state or ""
    )


def authorization_request_validate(*, params: list[tuple[str, str]]) -> PendingAuthorization:
    """Validate an authorization request (from GET or POST) and keep it as pending.

    Raises ``AuthorizationFailed`` when no trustworthy redirect_uri is known (unknown client,
    unregistered redirect_uri: RFC 6749 4.1.2.1 forbids redirecting) and
    ``AuthorizationDenied`` for every other error, which goes back to the client.
    """
    query = urlencode(params)
    if len(query) > MAX_QUERY_LENGTH or any(len(v) > MAX_PARAMETER_LENGTH for _, v in params):
        raise AuthorizationFailed("invalid_request", "The authorization request is too large.")
    # Every parameter may appear once (RFC 6749 3.1). A repeated client_id or redirect_uri
    # leaves nothing to trust (oauthlib answers with an error page); any other repeated
    # parameter is an invalid_request sent back to the client once the client is known.
    first_only: list[tuple[str, str]] = []
    repeated: list[str] = []
    for key, value in params:
        if key in TRUSTED_PARAMETERS or key not in {name for name, _ in first_only}:
            first_only.append((key, value))
        else:
            repeated.append(key)
    params = first_only
    # The claims parameter is checked after the client and redirect_uri are known, so that a
    # malformed one goes back to the client (RFC 6749 4.1.2.1) instead of an error page.
    without_claims = urlencode([(key, value) for key, value in params if key != "claims"])
    uri = f"{oauth2_settings.OIDC_ISS_ENDPOINT}/authorize?{without_claims}"
    try:
        scopes, credentials = oauth_server().validate_authorization_request(
            uri, http_method="GET", body="", headers={}
        )
    except FatalClientError as error:
        raise AuthorizationFailed(error.error, error.description or "") from error
    except OAuth2Error as error:
        if not error.redirect_uri:
            raise AuthorizationFailed(error.error, error.description or "") from error
        raise AuthorizationDenied(_oauthlib_error_url(error, "")) from error

    values = dict(params)
    redirect_uri = credentials["redirect_uri"]
    state = credentials.get("state") or ""

    def deny(error: str, description: str) -> AuthorizationDenied:
        return AuthorizationDenied(error_redirect_url(redirect_uri, error, description, state))

    if repeated:
        raise deny("invalid_request", f"The {repeated[0]} parameter appears more than once.")
    # OIDC Core 6: request objects are not supported, and discovery says so.
    if "request" in values:
        raise deny("request_not_supported", "Request objects are not supported.")
    if "request_uri" in values:
        raise deny("request_uri_not_supported", "request_uri is not supported.")
    if "code_challenge" in values:
        if values.get("code_challenge_method") != "S256":
            raise deny("invalid_request", "code_challenge_method must be S256.")
        if not PKCE_CHALLENGE.fullmatch(values["code_challenge"]):
            # RFC 7636 4.2: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"
            raise deny("invalid_request", "Malformed code_challenge.")
    if values.get("response_mode", "query") not in SUPPORTED_RESPONSE_MODES:
        raise deny("invalid_request", "Unsupported response_mode.")
    claims_values = [value for key, value in params if key == "claims"]
    if claims_values and not _claims_parameter_valid(claims_values):
        raise deny("invalid_request", "The claims parameter must be one JSON object.")
    max_age = values.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
        raise deny("invalid_request", "max_age must be a non-negative integer.")

    client = credentials["request"].client
    # Keep the redirect_uri resolved by validation, so the code is bound to it.
    if "redirect_uri" not in values:
        params = [*params, ("redirect_uri", redirect_uri)]
    return pending_new(
        client_id=client.client_id,
        client_name=client.name or client.client_id,
        query=urlencode(params),
        scopes=list(scopes),
    )


def _claims_parameter_valid(values: list[str]) -> bool:
    """OIDC Core 5.5: one JSON object whose userinfo/id_token members are objects."""
    if len(values) != 1:
        return False
    try:
        claims_request_parse(values[0])
    except ValueError:
        return False
    return True


def authorization_issue_code(*, request: HttpRequest, pending: PendingAuthorization) -> str:
    """Issue the code for ``pending`` to the signed-in user; return the redirect URL."""
    credentials = oauth_credentials(user=request.user, auth=session_auth_state(request))
    uri = f"{oauth2_settings.OIDC_ISS_ENDPOINT}/authorize?{pending.query}"
    try:
        headers, _body, _status = oauth_server().create_authorization_response(
            uri=uri,
            http_method="GET",
            body="",
            headers={},
            scopes=pending.scopes,
            credentials=credentials,
        )
    except FatalClientError as error:
        raise AuthorizationFailed(error.error, error.description or "") from error
    except OAuth2Error as error:
        raise AuthorizationDenied(
            _oauthlib_error_url(error, pending.params.get("state", ""))
        ) from error
    return with_issuer(headers["Location"])


def language_for_ui_locales(ui_locales: list[str]) -> str | None:
    """The first of the requested ui_locales (OIDC Core 3.1.2.1) that the pages speak."""
    for tag in ui_locales:
        try:
            return get_supported_language_variant(tag.lower()[:16])
        except LookupError:
            continue
    return None
