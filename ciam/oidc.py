"""OpenID Connect glue: django-oauth-toolkit's validator, extended where it falls short.

What this adds to DOT (each is covered by tests/oidc):
- PKCE required for public clients only; a verifier without a stored challenge is refused.
- A redeemed code remembers its tokens: replaying it revokes every token it produced.
- ID tokens carry the real auth_time, sid, acr, amr and azp of the authorization, also when
  refreshed, and are signed with the rotating keys of ciam/keys.py (RS256 or ES256).
- Claims come from one function, ciam/claims.py, honouring the ``claims`` request parameter.
- prompt=none is decided by the interaction pipeline (ciam/interaction.py), not here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from jwcrypto import jws, jwt
from jwcrypto.common import JWException
from oauth2_provider.exceptions import FatalClientError
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, UnsupportedResponseTypeError

from .claims import CLAIMS_SUPPORTED, ClaimSource, user_claims
from .keys import active_signing_key, keyring
from .models import AuthorizationContext
from .prepared import PreparedLookup

AccessToken = get_access_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()


# Scopes about the signed-in user (OIDC Core 5.4 and 11).
USER_SCOPES = frozenset({"openid", "profile", "email", "phone", "address", "offline_access"})


def generate_token(request: Any = None) -> str:
    """Access and refresh tokens: 256 random bits as base64url (43 characters), one read of
    the system's CSPRNG (oauthlib's default draws 30 characters with a system call each)."""
    return secrets.token_urlsafe(32)


def token_checksum(token: str) -> str:
    """The SHA-256 hex digest DOT stores as ``token_checksum`` and looks tokens up by."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _email_verified_subquery(user_ref: str) -> Exists:
    from allauth.account.models import EmailAddress

    return Exists(
        EmailAddress.objects.filter(
            user_id=OuterRef(f"{user_ref}id"),
            email__iexact=OuterRef(f"{user_ref}email"),
            verified=True,
        )
    )


def claim_source_for(user: Any, *, email_verified: bool | None = None) -> ClaimSource:
    """What the claims function needs about ``user`` (profile, verified email).

    ``email_verified`` may come precomputed (UserInfo loads it with the token, in one query).
    """
    from allauth.account.models import EmailAddress

    profile = getattr(user, "profile", None)  # None when the user has no profile row yet
    if email_verified is None:
        email_verified = EmailAddress.objects.filter(
            user_id=user.pk, email__iexact=user.email, verified=True
        ).exists()
    return ClaimSource(
        sub=str(user.pk), email=user.email, email_verified=email_verified, profile=profile
    )


def _contexts():
    """Contexts with what ID tokens need about the user, in the same query."""
    return AuthorizationContext.objects.select_related("user", "user__profile").annotate(
        ciam_email_verified=_email_verified_subquery("user__")
    )


def _access_token_with_claim_sources(checksum: str):
    claims_request = AuthorizationContext.objects.filter(
        token_family=OuterRef("refresh_token__token_family")
    ).values("claims")[:1]
    return (
        AccessToken.objects.select_related("application", "user", "user__profile")
        .annotate(
            ciam_claims=Subquery(claims_request),
            ciam_email_verified=_email_verified_subquery("user__"),
        )
        .filter(token_checksum=checksum)
    )


_ACCESS_TOKEN_LOOKUP = PreparedLookup(_access_token_with_claim_sources)
_LIVE_REFRESH_TOKEN_LOOKUP = PreparedLookup(
    lambda checksum: RefreshToken.objects.select_related("access_token", "user").filter(
        token_checksum=checksum, revoked__isnull=True
    )
)
_GRANT_LOOKUP = PreparedLookup(lambda code: Grant.objects.select_related("user").filter(code=code))
_CONTEXT_BY_CODE_HASH_LOOKUP = PreparedLookup(lambda digest: _contexts().filter(code_hash=digest))
_CONTEXT_BY_FAMILY_LOOKUP = PreparedLookup(
    lambda family: _contexts().filter(token_family=family),
    field=AuthorizationContext._meta.get_field("token_family"),
)


class RefreshTokenRaced(InvalidGrantError):
    """Two requests redeemed the same refresh token at once; this one lost.

    Raised inside the token request's transaction (which is rolled back); the caller then
    revokes ``token_family``: a refresh token presented twice is treated as stolen, as DOT's
    reuse protection treats a revoked one.
    """

    description = "The refresh token was used already."

    def __init__(self, token_family: Any, request: Any) -> None:
        super().__init__(request=request)
        self.token_family = token_family


def _delete_access_token(pk: int) -> None:
    """One DELETE, nothing collected: the only row that pointed at it (the refresh token
    just rotated) no longer does."""
    connection = connections[router.db_for_write(AccessToken)]
    table = connection.ops.quote_name(AccessToken._meta.db_table)
    column = connection.ops.quote_name(AccessToken._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [pk])  # noqa: S608


# Clients change rarely and are read on every token request: each process keeps them for a
# few seconds. A change made in admin is seen at once by the process that made it (the cache
# entry is dropped on save and delete) and by the others within APPLICATION_CACHE_SECONDS.
APPLICATION_CACHE_SECONDS = 10.0
_application_cache: dict[str, tuple[float, Any]] = {}


def application_cache_get(client_id: str) -> Any | None:
    entry = _application_cache.get(client_id)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def application_cache_put(application: Any) -> None:
    if len(_application_cache) > 1000:
        _application_cache.clear()
    _application_cache[application.client_id] = (
        time.monotonic() + APPLICATION_CACHE_SECONDS,
        application,
    )


def application_cache_forget(client_id: str | None = None) -> None:
    if client_id is None:
        _application_cache.clear()
    else:
        _application_cache.pop(client_id, None)


class CIAMValidator(OAuth2Validator):
    # DOT drops claims missing from this table; ours come from ciam/claims.py instead.
    oidc_claim_scope = None

    # --- client authentication and PKCE -------------------------------------------------

    def _load_application(self, client_id, request):
        # A NUL byte cannot be stored in PostgreSQL text (psycopg raises DataError, which DOT
        # does not catch): no client_id contains one, so it names no client.
        if not isinstance(client_id, str) or "\x00" in client_id or len(client_id) > 100:
            return None
        if request.client is None:
            cached = application_cache_get(client_id)
            if cached is not None:
                request.client = cached
                return cached
        application = super()._load_application(client_id, request)
        if application is not None:
            application_cache_put(application)
        return application

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        """RFC 9700 2.1.1: PKCE for public clients; optional for confidential ones."""
        client = self._load_application(client_id, request)
        return client is None or client.client_type == AbstractApplication.CLIENT_PUBLIC

    def _grant_for(self, code: Any, request: Any) -> Any | None:
        """The code's grant with its user, read once per token request (oauthlib asks for
        its scopes first, to choose the OpenID grant, then validates it)."""
        loaded = getattr(request, "ciam_grants", None)
        if loaded is None:
            loaded = request.ciam_grants = {}
        if code not in loaded:
            loaded[code] = _GRANT_LOOKUP.first(code) if isinstance(code, str) else None
        return loaded[code]

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        grant = self._grant_for(code, request)
        return grant.scope.split() if grant is not None and grant.scope else []

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        grant = self._grant_for(code, request)
        if grant is None or grant.application_id != client.pk:
            self._revoke_tokens_of_replayed_code(code, client)
            return False
        if grant.is_expired():
            return False
        if not grant.code_challenge and getattr(request, "code_verifier", None):
            # RFC 9700 2.1.1: a verifier for a code issued without a challenge is a downgrade.
            return False
        request.ciam_grant = grant
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.ciam_context = _CONTEXT_BY_CODE_HASH_LOOKUP.first(code_hash(code))
        return True

    def get_code_challenge(self, code, request):
        grant = getattr(request, "ciam_grant", None)
        if grant is not None and grant.code == code:
            return grant.code_challenge or None
        return super().get_code_challenge(code, request)

    def get_code_challenge_method(self, code, request):
        grant = getattr(request, "ciam_grant", None)
        if grant is not None and grant.code == code:
            return grant.code_challenge_method or None
        return super().get_code_challenge_method(code, request)

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        grant = getattr(request, "ciam_grant", None)
        if grant is not None and grant.code == code:
            return grant.nonce or None
        return super().get_authorization_code_nonce(client_id, code, redirect_uri, request)

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        request = kwargs.get("request") or (args[0] if args else None)
        grant = getattr(request, "ciam_grant", None)
        if grant is None or grant.code != code:
            grant = Grant.objects.filter(code=code, application=client).first()
        if grant is not None and redirect_uri == grant.redirect_uri:
            return True
        # RFC 6749 5.2: a redirect_uri that differs from the authorization request's is an
        # invalid grant, not a malformed request.
        raise InvalidGrantError(description="redirect_uri does not match.", request=request)

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        """OIDC Core 3.1.2.1: simple string comparison with a registered redirect URI."""
        return redirect_uri in request.client.redirect_uris.split()

    def validate_bearer_token(self, token, scopes, request):
        valid = super().validate_bearer_token(token, scopes, request)
        if valid and "openid" in (scopes or []) and request.user is None:
            # A client_credentials token has no user: nothing to answer at UserInfo.
            request.oauth2_error = {"error": "invalid_token"}
            return False
        return valid

    def _revoke_tokens_of_replayed_code(self, code: str, client: Any) -> None:
        """RFC 6749 4.1.2: a code used twice revokes the tokens issued from it."""
        context = AuthorizationContext.objects.filter(
            code_hash=code_hash(code), application=client, redeemed_at__isnull=False
        ).first()
        if context is not None and context.token_family:
            RefreshToken.revoke_family(context.token_family)

    # --- scopes -----------------------------------------------------------------------------

    def _is_machine_client(self, client: Any) -> bool:
        return (
            client is not None
            and client.authorization_grant_type == AbstractApplication.GRANT_CLIENT_CREDENTIALS
        )

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        # A machine client acts for no user: the user-data scopes mean nothing for it.
        if self._is_machine_client(client) and set(scopes) & USER_SCOPES:
            return False
        return super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        if self._is_machine_client(request.client):
            return []
        return super().get_default_scopes(client_id, request, *args, **kwargs)

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        # Only the authorization code flow is offered (discovery: response_types ["code"]).
        if response_type != "code":
            raise UnsupportedResponseTypeError(request=request)
        return super().validate_response_type(
            client_id, response_type, client, request, *args, **kwargs
        )

    # --- prompt=none and id_token_hint are decided by the interaction pipeline ------------

    def validate_silent_login(self, request: Any) -> bool:
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        return True

    def validate_user_match(self, id_token_hint, scopes, claims, request) -> bool:
        return True

    # --- storing codes and tokens ---------------------------------------------------------

    def _create_authorization_code(self, request, code, expires=None):
        grant = super()._create_authorization_code(request, code, expires)
        auth = getattr(request, "ciam_auth", None) or {}
        AuthorizationContext.objects.create(
            application=request.client,
            user=request.user,
            code_hash=code_hash(code["code"]),
            sid=auth.get("sid", ""),
            auth_time=int(auth.get("auth_time") or timezone.now().timestamp()),
            amr=auth.get("amr", []),
            acr=auth.get("acr", ""),
            claims=request.claims or {},
            offline="offline_access" in (request.scopes or []),
        )
        return grant

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
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
        self, request, refresh_token_code, access_token, previous_refresh_token
    ):
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        context = getattr(request, "ciam_context", None)
        if context is not None and previous_refresh_token is None:
            context.token_family = refresh_token.token_family
            context.redeemed_at = timezone.now()
            context.save(update_fields=["token_family", "redeemed_at"])
        return refresh_token

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        """A live refresh token in one prepared query (with its access token and user).

        Anything else (revoked: reuse detection and the family's revocation; unknown) is
        left to DOT, which decides exactly as before.
        """
        rt = _LIVE_REFRESH_TOKEN_LOOKUP.first(token_checksum(str(refresh_token)))
        if rt is None:
            return super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        if rt.access_token is None:
            return False  # an orphan: nothing left to refresh against (as DOT decides)
        lifetime = refresh_token_expire_timedelta()
        if lifetime and rt.access_token.expires + lifetime <= timezone.now():
            return False
        request.user = rt.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = rt
        return rt.application_id == client.pk

    def save_bearer_token(self, token, request, *args, **kwargs):
        if "refresh_token" not in token:
            # One INSERT (client_credentials): no transaction round trips needed around it.
            return self._save_bearer_token(token, request, *args, **kwargs)
        previous = getattr(request, "refresh_token_instance", None)
        # Joins the token request's transaction (ciam/services/tokens.py) if there is one.
        with transaction.atomic(using=router.db_for_write(AccessToken), savepoint=False):
            if request.grant_type == "refresh_token" and isinstance(previous, RefreshToken):
                return self._rotate_refresh_token(token, request, previous)
            return self._save_bearer_token(token, request, *args, **kwargs)

    def _rotate_refresh_token(self, token, request, previous) -> None:
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
        claimed = RefreshToken.objects.filter(pk=previous.pk, revoked__isnull=True).update(
            revoked=now, access_token=None, updated=now
        )
        if not claimed:
            raise RefreshTokenRaced(previous.token_family, request)
        if previous.access_token_id is not None:
            _delete_access_token(previous.access_token_id)
        access_token = self._create_access_token(
            expires, request, token, source_refresh_token=previous
        )
        self._create_refresh_token(request, token["refresh_token"], access_token, previous)

    # --- ID tokens and claims -------------------------------------------------------------

    def _context_for(self, request: Any) -> AuthorizationContext | None:
        context = getattr(request, "ciam_context", None)
        if context is not None:
            return context
        refresh_token = getattr(request, "refresh_token_instance", None)
        if refresh_token is not None and refresh_token.token_family:
            context = _CONTEXT_BY_FAMILY_LOOKUP.first(refresh_token.token_family)
            request.ciam_context = context
        return context

    def get_discovery_claims(self, request: Any) -> list[str]:
        return list(CLAIMS_SUPPORTED)

    def get_oidc_claims(self, token, token_handler, request):
        context = self._context_for(request)
        claims_request = context.claims if context is not None else getattr(request, "claims", None)
        if context is not None and context.user_id == request.user.pk:
            # The context was loaded with the user, profile and verified-email flag.
            source = claim_source_for(context.user, email_verified=context.ciam_email_verified)
        else:
            source = claim_source_for(request.user)
        return user_claims(
            source,
            scopes=request.scopes or [],
            claims_request=claims_request,
            member="id_token",
        )

    def get_id_token_dictionary(self, token, token_handler, request):
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

    def finalize_id_token(self, id_token, token, token_handler, request):
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and getattr(request, "nonce", None):
            id_token["nonce"] = request.nonce
        key = active_signing_key(request.client.algorithm or AbstractApplication.RS256_ALGORITHM)
        header = {"typ": "JWT", "alg": key.algorithm, "kid": key.kid}
        signed = jwt.JWT(header=header, claims=json.dumps(id_token, default=str))
        signed.make_signed_token(key.jwk)
        request.id_token = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = request.id_token
        return signed.serialize()

    def _load_id_token(self, token):
        claims = verify_id_token(token)
        if claims is None or "jti" not in claims:
            return None
        return IDToken.objects.filter(jti=claims["jti"]).first()

    def _load_access_token(self, token):
        """One query per bearer token: the token, its client, user, profile, whether the
        email is verified and the ``claims`` request of its authorization (for UserInfo)."""
        return _ACCESS_TOKEN_LOOKUP.first(token_checksum(token))

    def get_userinfo_claims(self, request):
        access_token = request.access_token
        claims_request = getattr(access_token, "ciam_claims", None)
        if isinstance(claims_request, str):  # some backends return JSON as text
            claims_request = json.loads(claims_request)
        return user_claims(
            claim_source_for(
                request.user, email_verified=getattr(access_token, "ciam_email_verified", None)
            ),
            scopes=access_token.scopes.keys(),
            claims_request=claims_request,
            member="userinfo",
        )


def verify_id_token(token: str, *, require_unexpired: bool = False) -> dict | None:
    """Claims of an ID token this provider signed (any published key), else None.

    Only RS256 and ES256 are accepted: ``none`` and HMAC tokens never verify. Expired
    tokens verify unless ``require_unexpired`` (OIDC RP-Initiated Logout 2 accepts them as
    id_token_hint).
    """
    if not isinstance(token, str) or len(token) > 16384:
        return None
    try:
        parsed = jws.JWS()
        parsed.deserialize(token)
        header = parsed.jose_header
    except (JWException, ValueError, TypeError):
        return None
    if not isinstance(header, dict) or header.get("alg") not in ("RS256", "ES256"):
        return None
    key = keyring().by_kid(str(header.get("kid", "")))
    if key is None:
        key = keyring(refresh=True).by_kid(str(header.get("kid", "")))
    if key is None or key.algorithm != header.get("alg"):
        return None
    try:
        verified = jwt.JWT(
            jwt=token,
            key=key.jwk,
            algs=[key.algorithm],
            check_claims=None if require_unexpired else False,
            expected_type="JWS",
        )
        claims = json.loads(verified.claims)
    except (JWException, ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != oauth2_settings.OIDC_ISS_ENDPOINT:
        return None
    return claims


def user_for_sub(sub: Any) -> Any | None:
    if not isinstance(sub, str) or not sub.isdigit():
        return None
    return get_user_model().objects.filter(pk=int(sub), is_active=True).first()
