"""CIAM's oauthlib request validator: DOT's ``OAuth2Validator``, extended where it falls short.

Set as ``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``. It decides; the small modules beside it
do the work: the prepared reads (``lookups``), the client cache (``client_cache``), the claim
sources (``claim_sources``, with the pure claims function of ciam/claims.py), ID-token
signing (``id_tokens``), the rotation statements (``rotation``). What one callback learns for
the next lives in ``oauth_state(request)`` (``state``). ciam/oauth/__init__.py lists what this
adds to DOT.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlsplit

from django.db import router, transaction
from django.utils import timezone
from jwcrypto import jws
from oauth2_provider.exceptions import FatalClientError
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, UnsupportedResponseTypeError

from ..claims import CLAIMS_SUPPORTED, user_claims
from ..client_secrets import client_secret_previous_matches
from ..models import AuthorizationContext, ClientKind
from .claim_sources import claim_source_for, with_provided_claims
from .client_cache import application_cache_get, application_cache_put
from .id_tokens import id_token_algorithm, sign_id_token, signing_jwk_for, verify_id_token
from .jwt_access import jwt_access_token_claims, jwt_access_token_revoke, looks_like_jwt, uses_jwt
from .lookups import (
    ACCESS_TOKEN_LOOKUP,
    CONTEXT_BY_CODE_HASH_LOOKUP,
    CONTEXT_BY_FAMILY_LOOKUP,
    GRANT_LOOKUP,
    LIVE_REFRESH_TOKEN_LOOKUP,
)
from .refresh_lifetime import FAMILY_STARTED, refresh_token_expires_at
from .rotation import (
    AuthorizationCodeRaced,
    RefreshTokenRaced,
    access_token_delete,
    refresh_token_claim,
)
from .state import oauth_state
from .tokens import code_hash, token_checksum

if TYPE_CHECKING:
    from oauth2_provider.models import AbstractGrant
    from oauthlib.common import Request as OAuthlibRequest

AccessToken = get_access_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()

# Scopes about the signed-in user (OIDC Core 5.4 and 11; ``consents``: their purpose
# decisions).
USER_SCOPES = frozenset(
    {"openid", "profile", "email", "phone", "address", "offline_access", "consents", "interests"}
)
# Scopes of the back-end APIs (consent/api.py, profiling/api.py), for machine clients only:
# they reach every user's records, which no client acting for one signed-in user may.
MACHINE_SCOPES = frozenset(
    {
        "consent:read",
        "consent:write",
        "profile:read",
        "profile:write",
        "events:write",
        "personalization:read",
        "ssf:manage",
    }
)


def _loopback_without_port(uri: str) -> tuple[str, str, str, str] | None:
    """(scheme, host, path, query) of an http loopback IP URI (RFC 8252 7.3), else None."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1") or parts.fragment:
        return None
    return (parts.scheme, parts.hostname, parts.path, parts.query)


def _user_may_use_tokens(user: Any) -> bool:
    """A disabled account's tokens and codes are refused wherever they are presented
    (UserInfo, the back-end APIs, refresh, code redemption; introspection says inactive),
    also any its disabling did not revoke. A token without a user (client credentials) is
    the client's own."""
    return user is None or bool(user.is_active)


def replayed_code_tokens_revoke(code: str, client: AbstractApplication) -> None:
    """RFC 6749 4.1.2: a code used twice revokes the tokens issued from it."""
    context = AuthorizationContext.objects.filter(
        code_hash=code_hash(code), application=client, redeemed_at__isnull=False
    ).first()
    if context is not None and context.token_family:
        RefreshToken.revoke_family(context.token_family)


class CIAMValidator(OAuth2Validator):
    # DOT drops claims missing from this table; ours come from ciam/claims.py instead.
    oidc_claim_scope = None

    # --- client authentication and PKCE -------------------------------------------------

    def _load_application(
        self, client_id: Any, request: OAuthlibRequest
    ) -> AbstractApplication | None:
        # A NUL byte cannot be stored in PostgreSQL text (psycopg raises DataError, which DOT
        # does not catch): no client_id contains one, so it names no client.
        if not isinstance(client_id, str) or "\x00" in client_id or len(client_id) > 100:
            return None
        if request.client is None:
            cached = application_cache_get(client_id)
            if cached is not None:
                request.client = cached
                return cached
        application: AbstractApplication | None = super()._load_application(client_id, request)
        if application is not None:
            application_cache_put(application)
        return application

    def authenticate_client(self, request: OAuthlibRequest, *args: Any, **kwargs: Any) -> bool:
        """client_secret_basic, then client_secret_post (RFC 6749 2.3.1), as DOT does; during
        the grace period after a rotation (ciam/client_secrets.py) the replaced secret too."""
        if super().authenticate_client(request, *args, **kwargs):
            return True
        client = request.client
        if client is None or not getattr(client, "previous_client_secret", ""):
            return False
        for client_id, secret in self._presented_credentials(request):
            if client_id == client.client_id and client_secret_previous_matches(client, secret):
                return True
        return False

    def _authenticate_basic_auth(self, request: OAuthlibRequest) -> bool:
        # RFC 7617 2: the credentials are base64 (token68), ASCII. DOT lets base64's
        # ValueError for other characters escape (a 500); they are malformed credentials
        # like any other bad base64.
        auth_string = self._extract_basic_auth(request)
        if auth_string and not auth_string.isascii():
            return False
        authenticated: bool = super()._authenticate_basic_auth(request)
        return authenticated

    def _presented_credentials(self, request: OAuthlibRequest) -> list[tuple[str, str]]:
        """The (client_id, client_secret) pairs of the Authorization header (Basic) and of
        the body, each when present and well formed."""
        presented: list[tuple[str, str]] = []
        auth_string = self._extract_basic_auth(request)
        if auth_string:
            try:
                encoding = getattr(request, "encoding", None) or "utf-8"
                decoded = base64.b64decode(auth_string).decode(encoding)
                client_id, secret = map(unquote_plus, decoded.split(":", 1))
                presented.append((client_id, secret))
            except (TypeError, ValueError, LookupError, binascii.Error, UnicodeDecodeError):
                pass
        body_id = getattr(request, "client_id", None)
        body_secret = getattr(request, "client_secret", None)
        if isinstance(body_id, str) and isinstance(body_secret, str) and body_secret:
            presented.append((body_id, body_secret))
        return presented

    def is_pkce_required(self, client_id: str, request: OAuthlibRequest) -> bool:
        """RFC 9700 2.1.1: PKCE for public clients; optional for confidential ones."""
        client = self._load_application(client_id, request)
        return client is None or client.client_type == AbstractApplication.CLIENT_PUBLIC

    def _grant_for(self, code: Any, request: OAuthlibRequest) -> AbstractGrant | None:
        """The code's grant with its user, read once per token request (oauthlib asks for
        its scopes first, to choose the OpenID grant, then validates it)."""
        grants = oauth_state(request).grants
        if code not in grants:
            grants[code] = GRANT_LOOKUP.first(code) if isinstance(code, str) else None
        return grants[code]

    def _validated_grant(self, code: Any, request: OAuthlibRequest | None) -> AbstractGrant | None:
        """The grant ``validate_code`` accepted for ``code`` during this request, if any."""
        if request is None:
            return None
        grant = oauth_state(request).grant
        return grant if grant is not None and grant.code == code else None

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: OAuthlibRequest
    ) -> list[str]:
        grant = self._grant_for(code, request)
        return grant.scope.split() if grant is not None and grant.scope else []

    def validate_code(
        self,
        client_id: str,
        code: str,
        client: AbstractApplication,
        request: OAuthlibRequest,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        grant = self._grant_for(code, request)
        if grant is None or grant.application_id != client.pk:
            self._revoke_tokens_of_replayed_code(code, client)
            return False
        if grant.is_expired() or not _user_may_use_tokens(grant.user):
            return False
        if not grant.code_challenge and getattr(request, "code_verifier", None):
            # RFC 9700 2.1.1: a verifier for a code issued without a challenge is a downgrade.
            return False
        state = oauth_state(request)
        state.grant = grant
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        state.context = CONTEXT_BY_CODE_HASH_LOOKUP.first(code_hash(code))
        return True

    def get_code_challenge(self, code: str, request: OAuthlibRequest) -> str | None:
        grant = self._validated_grant(code, request)
        if grant is not None:
            return grant.code_challenge or None
        challenge: str | None = super().get_code_challenge(code, request)
        return challenge

    def get_code_challenge_method(self, code: str, request: OAuthlibRequest) -> str | None:
        grant = self._validated_grant(code, request)
        if grant is not None:
            return grant.code_challenge_method or None
        method: str | None = super().get_code_challenge_method(code, request)
        return method

    def get_authorization_code_nonce(
        self, client_id: str, code: str, redirect_uri: str, request: OAuthlibRequest
    ) -> str | None:
        grant = self._validated_grant(code, request)
        if grant is not None:
            return grant.nonce or None
        nonce: str | None = super().get_authorization_code_nonce(
            client_id, code, redirect_uri, request
        )
        return nonce

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: AbstractApplication,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        request = kwargs.get("request") or (args[0] if args else None)
        grant = self._validated_grant(code, request)
        if grant is None:
            grant = Grant.objects.filter(code=code, application=client).first()
        if grant is not None and redirect_uri == grant.redirect_uri:
            return True
        # RFC 6749 5.2: a redirect_uri that differs from the authorization request's is an
        # invalid grant, not a malformed request.
        raise InvalidGrantError(description="redirect_uri does not match.", request=request)

    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: OAuthlibRequest, *args: Any, **kwargs: Any
    ) -> bool:
        """OIDC Core 3.1.2.1: simple string comparison with a registered redirect URI; for a
        native client's loopback redirect URI any port (RFC 8252 7.3)."""
        registered = request.client.redirect_uris.split()
        if redirect_uri in registered:
            return True
        if getattr(request.client, "kind", "") != ClientKind.NATIVE:
            return False
        portless = _loopback_without_port(redirect_uri)
        return portless is not None and any(
            _loopback_without_port(uri) == portless for uri in registered
        )

    def validate_bearer_token(
        self, token: str, scopes: list[str], request: OAuthlibRequest
    ) -> bool:
        valid: bool = super().validate_bearer_token(token, scopes, request)
        if valid and "openid" in (scopes or []) and request.user is None:
            # A client_credentials token has no user: nothing to answer at UserInfo.
            request.oauth2_error = {"error": "invalid_token"}
            return False
        if valid and not _user_may_use_tokens(request.user):
            request.oauth2_error = {"error": "invalid_token"}
            return False
        return valid

    def validate_jwt_bearer_token(
        self, token: str, scopes: list[str], request: OAuthlibRequest
    ) -> bool:
        """oauthlib's OpenID server takes a Bearer token that looks like a JWT for its JWT
        token type and asks this: our JWT access tokens (ciam/oauth/jwt_access.py) are
        Bearer tokens, validated like any other."""
        return self.validate_bearer_token(token, scopes, request)

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: OAuthlibRequest, *args: Any, **kwargs: Any
    ) -> None:
        """Delete the code's grant, last of the redemption's writes; a concurrent redemption
        that deleted it first makes this one lose (``AuthorizationCodeRaced``)."""
        deleted, _ = Grant.objects.filter(code=code, application=request.client).delete()
        if not deleted:
            raise AuthorizationCodeRaced(code, request.client, request)

    def _revoke_tokens_of_replayed_code(self, code: str, client: AbstractApplication) -> None:
        replayed_code_tokens_revoke(code, client)

    # --- scopes -----------------------------------------------------------------------------

    def _is_machine_client(self, client: AbstractApplication | None) -> bool:
        return (
            client is not None
            and client.authorization_grant_type == AbstractApplication.GRANT_CLIENT_CREDENTIALS
        )

    def _user_scopes_refused(self, client: AbstractApplication | None, request: Any) -> bool:
        """A machine client, or a client credentials request (the service account of a web
        client): the client acts for no user, the user-data scopes mean nothing for it."""
        return (
            self._is_machine_client(client)
            or getattr(request, "grant_type", None) == "client_credentials"
        )

    def _machine_scopes_refused(self, client: AbstractApplication | None, request: Any) -> bool:
        """Any request but a client credentials token request: the back-end API scopes reach
        every user's records, which no client acting for one signed-in user may. (A
        ``grant_type`` smuggled into an authorization request only refuses more.)"""
        if self._is_machine_client(client):
            return False
        return getattr(request, "grant_type", None) != "client_credentials" or bool(
            getattr(request, "response_type", None)
        )

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: AbstractApplication,
        request: OAuthlibRequest,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        if self._user_scopes_refused(client, request) and set(scopes) & USER_SCOPES:
            return False
        if self._machine_scopes_refused(client, request) and set(scopes) & MACHINE_SCOPES:
            return False
        # The client's allowed scopes (empty: every scope the provider offers).
        allowed: frozenset[str] = getattr(client, "allowed_scope_set", frozenset())
        if allowed and not set(scopes) <= allowed:
            return False
        # The service account of a client that also signs users in gets the back-end API
        # scopes (every customer's records) only when they are listed in its allowed scopes.
        if not self._is_machine_client(client) and not set(scopes) & MACHINE_SCOPES <= allowed:
            return False
        valid: bool = super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)
        return valid

    def get_original_scopes(
        self, refresh_token: str, request: OAuthlibRequest, *args: Any, **kwargs: Any
    ) -> Any:
        """The refreshed token's scopes: the original ones (RFC 6749 6) the client is still
        allowed (its allowed scopes narrowed since: the family loses the rest)."""
        original = super().get_original_scopes(refresh_token, request, *args, **kwargs)
        allowed: frozenset[str] = getattr(request.client, "allowed_scope_set", frozenset())
        if not allowed:
            return original
        listed = original.split() if isinstance(original, str) else list(original or [])
        return " ".join(scope for scope in listed if scope in allowed)

    def get_default_scopes(
        self, client_id: str, request: OAuthlibRequest, *args: Any, **kwargs: Any
    ) -> list[str]:
        if self._user_scopes_refused(request.client, request):
            return []
        scopes: list[str] = super().get_default_scopes(client_id, request, *args, **kwargs)
        allowed: frozenset[str] = getattr(request.client, "allowed_scope_set", frozenset())
        return [scope for scope in scopes if not allowed or scope in allowed]

    def validate_response_type(
        self,
        client_id: str,
        response_type: str,
        client: AbstractApplication,
        request: OAuthlibRequest,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        # Only the authorization code flow is offered (discovery: response_types ["code"]).
        if response_type != "code":
            raise UnsupportedResponseTypeError(request=request)
        valid: bool = super().validate_response_type(
            client_id, response_type, client, request, *args, **kwargs
        )
        return valid

    # --- prompt=none and id_token_hint are decided by the interaction pipeline ------------

    def validate_silent_login(self, request: OAuthlibRequest) -> bool:
        return True

    def validate_silent_authorization(self, request: OAuthlibRequest) -> bool:
        return True

    def validate_user_match(
        self, id_token_hint: str, scopes: list[str], claims: Any, request: OAuthlibRequest
    ) -> bool:
        return True

    # --- storing codes and tokens ---------------------------------------------------------

    def _create_authorization_code(
        self, request: OAuthlibRequest, code: dict[str, Any], expires: Any = None
    ) -> AbstractGrant:
        grant: AbstractGrant = super()._create_authorization_code(request, code, expires)
        auth = oauth_state(request).auth
        AuthorizationContext.objects.create(
            application=request.client,
            user=request.user,
            code_hash=code_hash(code["code"]),
            sid=auth.sid if auth is not None else "",
            # OIDC Core 2: auth_time is when the user authenticated, not when the code issued.
            auth_time=int(
                (auth.auth_time if auth is not None else 0) or timezone.now().timestamp()
            ),
            amr=list(auth.amr) if auth is not None else [],
            acr=auth.acr if auth is not None else "",
            claims=request.claims or {},
            offline="offline_access" in (request.scopes or []),
        )
        return grant

    def _create_access_token(
        self,
        expires: Any,
        request: OAuthlibRequest,
        token: dict[str, Any],
        source_refresh_token: Any = None,
    ) -> Any:
        id_token = getattr(request, "id_token", None)
        if not isinstance(id_token, IDToken):
            id_token = None
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=id_token,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        return access_token

    def _create_refresh_token(
        self,
        request: OAuthlibRequest,
        refresh_token_code: str,
        access_token: Any,
        previous_refresh_token: Any,
    ) -> Any:
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        context = oauth_state(request).context
        if context is not None and previous_refresh_token is None:
            context.token_family = refresh_token.token_family
            context.redeemed_at = timezone.now()
            context.save(update_fields=["token_family", "redeemed_at"])
        return refresh_token

    def validate_refresh_token(
        self,
        refresh_token: str,
        client: AbstractApplication,
        request: OAuthlibRequest,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """A live refresh token in one prepared query (with its access token and user).

        Anything else (revoked: reuse detection and the family's revocation; unknown) is
        left to DOT, which decides exactly as before.
        """
        rt = LIVE_REFRESH_TOKEN_LOOKUP.first(token_checksum(str(refresh_token)))
        if rt is None:
            valid: bool = super().validate_refresh_token(
                refresh_token, client, request, *args, **kwargs
            )
            return valid and _user_may_use_tokens(request.user)
        if rt.access_token is None:
            return False  # an orphan: nothing left to refresh against (as DOT decides)
        expires = refresh_token_expires_at(
            access_token_expires=rt.access_token.expires,
            family_started=getattr(rt, FAMILY_STARTED, None),
        )
        if expires is not None and expires <= timezone.now():
            return False
        if not _user_may_use_tokens(rt.user):
            return False
        request.user = rt.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = rt
        return bool(rt.application_id == client.pk)

    def save_bearer_token(
        self, token: dict[str, Any], request: OAuthlibRequest, *args: Any, **kwargs: Any
    ) -> Any:
        if "refresh_token" not in token:
            if request.grant_type == "client_credentials" and uses_jwt(request.client):
                return None  # self-contained (ciam/oauth/jwt_access.py): nothing to store
            # One INSERT (client_credentials): no transaction round trips needed around it.
            return self._save_bearer_token(token, request, *args, **kwargs)
        previous = getattr(request, "refresh_token_instance", None)
        # Joins the token request's transaction (ciam/services/tokens.py) if there is one.
        with transaction.atomic(using=router.db_for_write(AccessToken), savepoint=False):
            if request.grant_type == "refresh_token" and isinstance(previous, RefreshToken):
                return self._rotate_refresh_token(token, request, previous)
            return self._save_bearer_token(token, request, *args, **kwargs)

    def _rotate_refresh_token(
        self, token: dict[str, Any], request: OAuthlibRequest, previous: Any
    ) -> None:
        """RFC 9700 4.14.2 rotation in four statements: claim the old refresh token with a
        conditional UPDATE (only one concurrent request can), delete its access token, insert
        the new pair. DOT's own path locks, re-reads and collects related rows first."""
        if "scope" not in token:
            raise FatalClientError("Failed to renew access token: missing scope")
        self._check_and_set_request_resource(request)
        now = timezone.now()
        expires = now + timedelta(
            seconds=token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
        )
        if not refresh_token_claim(pk=previous.pk, now=now):
            raise RefreshTokenRaced(previous.token_family, request)
        if previous.access_token_id is not None:
            access_token_delete(previous.access_token_id)
        access_token = self._create_access_token(
            expires, request, token, source_refresh_token=previous
        )
        self._create_refresh_token(request, token["refresh_token"], access_token, previous)

    # --- ID tokens and claims -------------------------------------------------------------

    def _context_for(self, request: OAuthlibRequest) -> AuthorizationContext | None:
        state = oauth_state(request)
        if state.context is not None:
            return state.context
        refresh_token = getattr(request, "refresh_token_instance", None)
        if refresh_token is not None and refresh_token.token_family:
            state.context = CONTEXT_BY_FAMILY_LOOKUP.first(refresh_token.token_family)
        return state.context

    def get_discovery_claims(self, request: Any) -> list[str]:
        return list(CLAIMS_SUPPORTED)

    def get_oidc_claims(
        self, token: Any, token_handler: Any, request: OAuthlibRequest
    ) -> dict[str, Any]:
        context = self._context_for(request)
        claims_request = context.claims if context is not None else getattr(request, "claims", None)
        if context is not None and context.user_id == request.user.pk:
            # The context was loaded with the user, profile and verified-email flag.
            source = claim_source_for(
                context.user,
                client=request.client,
                email_verified=getattr(context, "ciam_email_verified", None),
            )
        else:
            source = claim_source_for(request.user, client=request.client)
        source = with_provided_claims(
            source,
            user=request.user,
            application=request.client,
            scopes=request.scopes or [],
            claims_request=claims_request,
            member="id_token",
        )
        return user_claims(
            source,
            scopes=request.scopes or [],
            claims_request=claims_request,
            member="id_token",
        )

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: OAuthlibRequest
    ) -> tuple[dict[str, Any], Any]:
        claims = self.get_oidc_claims(token, token_handler, request)
        now = timezone.now()
        expiration_time = now + timedelta(seconds=oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)
        context = self._context_for(request)
        claims.update(
            iss=self.get_oidc_issuer_endpoint(request),
            exp=int(expiration_time.timestamp()),
            jti=str(uuid.uuid4()),
            azp=request.client_id or request.client.client_id,
            # OIDC Core 2 / 12.2: the time of the original authentication, also on refresh.
            auth_time=context.auth_time if context is not None else int(now.timestamp()),
        )
        if context is not None:
            if context.sid:
                claims["sid"] = context.sid
            if context.acr:
                claims["acr"] = context.acr
            if context.amr:
                claims["amr"] = list(context.amr)
        return claims, expiration_time

    def finalize_id_token(
        self, id_token: dict[str, Any], token: Any, token_handler: Any, request: OAuthlibRequest
    ) -> str:
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and getattr(request, "nonce", None):
            # OIDC Core 3.1.3.6: the nonce of the authentication request, unchanged.
            id_token["nonce"] = request.nonce
        signed = sign_id_token(id_token, algorithm=id_token_algorithm(request.client))
        request.id_token = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = request.id_token
        return signed

    def _load_id_token(self, token: str) -> Any:
        claims = verify_id_token(token)
        if claims is None or "jti" not in claims:
            return None
        return IDToken.objects.filter(jti=claims["jti"]).first()

    def _get_key_for_token(self, token: str) -> Any:
        """DOT's hook for the key of a token it peeks into (its RP-Initiated Logout view):
        the key that signs for the token's client now, from our keyring (DOT would ask the
        application's ``jwk_key``). Our own paths verify by ``kid`` (``verify_id_token``)."""
        unverified = jws.JWS()
        unverified.deserialize(token)
        claims = json.loads(unverified.objects["payload"].decode("utf-8"))
        if "aud" not in claims:
            return None
        application = self._get_client_by_audience(claims["aud"])
        if application:
            return signing_jwk_for(application)
        return None

    def _load_access_token(self, token: str) -> Any:
        """One query per bearer token: the token, its client, user, profile, whether the
        email is verified and the ``claims`` request of its authorization (for UserInfo).

        A client credentials JWT has no row: verified, it stands for an unsaved token of its
        client (the back-end APIs read its client and scopes)."""
        stored = ACCESS_TOKEN_LOOKUP.first(token_checksum(token))
        if stored is not None or not looks_like_jwt(token):
            return stored
        claims = jwt_access_token_claims(token)
        if claims is None:
            return None
        return AccessToken(
            application=claims["ciam_client"],
            user=None,
            scope=str(claims.get("scope", "")),
            expires=datetime.fromtimestamp(claims["exp"], tz=UTC),
        )

    def revoke_token(
        self,
        token: str,
        token_type_hint: str | None,
        request: OAuthlibRequest,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """RFC 7009, and for a client credentials JWT of the caller's: its jti recorded
        as revoked (ciam/oauth/jwt_access.py)."""
        if (
            isinstance(token, str)
            and looks_like_jwt(token)
            and request.client is not None
            and jwt_access_token_revoke(token=token, client=request.client)
        ):
            return
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)

    def get_userinfo_claims(self, request: OAuthlibRequest) -> dict[str, Any]:
        access_token = request.access_token
        claims_request = getattr(access_token, "ciam_claims", None)
        if isinstance(claims_request, str):  # some backends return JSON as text
            claims_request = json.loads(claims_request)
        source = with_provided_claims(
            claim_source_for(
                request.user,
                client=access_token.application,
                email_verified=getattr(access_token, "ciam_email_verified", None),
            ),
            user=request.user,
            application=access_token.application,
            scopes=access_token.scopes.keys(),
            claims_request=claims_request,
            member="userinfo",
        )
        return user_claims(
            source,
            scopes=access_token.scopes.keys(),
            claims_request=claims_request,
            member="userinfo",
        )
