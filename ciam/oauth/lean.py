"""The back-channel requests' common case, answered without oauthlib's per-request machinery.

A token, introspection or UserInfo request that is fully specified and well formed (the
parameters each endpoint defines, each once; one client authentication; a known,
confidential client with its current secret; no ``scope`` on a refresh) is the same few
steps every time: authenticate the client, one transaction, JSON. This module does those
steps directly: it reads through the prepared lookups of ``lookups`` and writes DOT's own
tables with plain statements (DOT's models stay the one token store), and it decides
with the validator's own rules (``CIAMValidator``: scopes, grant types, refresh-token
expiry, disabled accounts, claims), so both paths give the same answer.

Everything else returns ``None``: the caller (ciam/fastpath.py) then hands the request,
unchanged, to the Django view, which answers it through oauthlib as before. That includes
every error: a wrong secret, an unknown or expired token, a malformed body, a scope to
narrow. A rule this module does not check is a reason to return ``None``, never to guess.

What differs from the full path, on purpose:

- A refreshed ID token is not stored as an ``IDToken`` row: nothing reads those rows
  (ID token hints are verified by signature, ciam/oauth/id_tokens.py; logout is ours, not
  DOT's view), and the cleanup deletes them once their access token is gone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from django.db import connections, router, transaction
from django.utils import timezone
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from ..http import BAD_ESCAPE
from ..models import AuthorizationContext
from ..services.introspection import token_introspection
from .client_cache import application_cached
from .id_tokens import id_token_algorithm, sign_id_token
from .jwt_access import jwt_access_token_issue, uses_jwt
from .lookups import (
    ACCESS_TOKEN_LOOKUP,
    LIVE_REFRESH_TOKEN_WITH_CONTEXT_LOOKUP,
    REFRESH_CONTEXT_FIELDS,
)
from .refresh_lifetime import FAMILY_STARTED, refresh_token_expires_at
from .rotation import RefreshTokenRaced
from .state import oauth_state
from .tokens import generate_access_token, generate_token, token_checksum

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

# RFC 6749 3.3 scope-token characters, single spaces between tokens.
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")
# The parameters each lean request may carry (anything else: the full path decides).
_CLIENT_PARAMS = frozenset({"client_id", "client_secret"})
_CLIENT_CREDENTIALS_PARAMS = frozenset({"grant_type", "scope"}) | _CLIENT_PARAMS
_REFRESH_PARAMS = frozenset({"grant_type", "refresh_token"}) | _CLIENT_PARAMS
_INTROSPECTION_PARAMS = frozenset({"token", "token_type_hint"}) | _CLIENT_PARAMS
# DOT's GRANT_TYPE_MAPPING["refresh_token"]: the clients a refresh token is issued to.
_REFRESHING_GRANTS = (
    AbstractApplication.GRANT_AUTHORIZATION_CODE,
    AbstractApplication.GRANT_PASSWORD,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS,
    AbstractApplication.GRANT_OPENID_HYBRID,
)


@dataclass(frozen=True)
class LeanAnswer:
    """A 200 answer: its JSON body and, for a token response, the grant it came from."""

    body: bytes
    grant: str = ""


def form_pairs(body: bytes) -> dict[str, str] | None:
    """The body's parameters when ``form_params`` (ciam/http.py) would accept them, each
    once; None for anything it would refuse or that needs a closer look."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return None
    if BAD_ESCAPE.search(text):
        return None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    params = dict(pairs)
    if len(params) != len(pairs) or any("\x00" in k or "\x00" in v for k, v in pairs):
        return None
    return params


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    """(client_id, secret) of a well-formed ``Basic`` header, as DOT decodes it."""
    if not authorization.startswith("Basic ") or not authorization.isascii():
        return None
    try:
        decoded = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def authenticated_client(authorization: str, params: dict[str, str]) -> AbstractApplication | None:
    """The confidential client the request authenticates with its current secret, by HTTP
    Basic or in the body (RFC 6749 2.3.1), never both; None otherwise (the full path then
    decides: a wrong secret, a replaced one still in its grace period, a public client)."""
    if authorization:
        if "client_secret" in params:
            return None
        credentials = _basic_credentials(authorization)
        if credentials is None or params.get("client_id", credentials[0]) != credentials[0]:
            return None
    else:
        credentials = (params.get("client_id", ""), params.get("client_secret", ""))
    client_id, secret = credentials
    if not client_id or not secret or len(client_id) > 100 or "\x00" in client_id:
        return None
    client = application_cached(client_id)
    if (
        client is None
        or client.client_type != AbstractApplication.CLIENT_CONFIDENTIAL
        or not client.is_usable(None)
        or not _validator()._check_secret(secret, client.client_secret)
    ):
        return None
    return client


@cache
def _validator() -> Any:
    return oauth2_settings.OAUTH2_VALIDATOR_CLASS()


def _json(data: dict[str, Any]) -> bytes:
    # json.dumps as oauthlib and the views write it.
    return json.dumps(data).encode()


# --- writes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Insert:
    sql: str
    fields: tuple[Any, ...]


@cache
def _insert(model: Any, vendor: str, names: tuple[str, ...]) -> _Insert:
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = tuple(model._meta.get_field(name) for name in names)
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks}) "  # noqa: S608
        f"RETURNING {quote(model._meta.pk.column)}"
    )
    return _Insert(sql=sql, fields=fields)


def _insert_row(model: Any, values: dict[str, Any]) -> Any:
    """One INSERT ... RETURNING of ``values`` (field name -> value), each converted for the
    database as the field converts it on save; the new primary key."""
    connection = connections[router.db_for_write(model)]
    statement = _insert(model, connection.vendor, tuple(values))
    params = [field.get_db_prep_save(values[field.name], connection) for field in statement.fields]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        return cursor.fetchone()[0]


def _stored_token(raw: str) -> str:
    """The ``token`` column of a new token (DOT's ``set_token_value``): empty when tokens
    are kept only as their checksum (RFC 9700 token storage)."""
    return "" if oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE else raw


def _access_token_insert(
    *,
    raw: str,
    client: AbstractApplication,
    user_id: Any,
    scope: str,
    expires: datetime,
    now: datetime,
    source_refresh_token_id: Any = None,
) -> Any:
    return _insert_row(
        AccessToken,
        {
            "user": user_id,
            "source_refresh_token": source_refresh_token_id,
            "token": _stored_token(raw),
            "token_checksum": token_checksum(raw),
            "id_token": None,
            "application": client.pk,
            "expires": expires,
            "scope": scope,
            "resource": [],
            "created": now,
            "updated": now,
        },
    )


# --- the token endpoint ---------------------------------------------------------------------


def _bearer(access_token: str, scope: str, **extra: str) -> dict[str, Any]:
    """oauthlib's BearerToken response, in its key order."""
    return {
        "access_token": access_token,
        "expires_in": oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS,
        "token_type": "Bearer",
        "scope": scope,
        **extra,
    }


def client_credentials_answer(
    *, client: AbstractApplication, params: dict[str, str]
) -> LeanAnswer | None:
    """RFC 6749 4.4: a token for the client itself, one INSERT."""
    if set(params) - _CLIENT_CREDENTIALS_PARAMS:
        return None
    validator = _validator()
    request = SimpleNamespace(client=client, grant_type="client_credentials", user=None)
    if not validator.validate_grant_type(client.client_id, "client_credentials", client, request):
        return None
    if "scope" in params:
        if not _SCOPE.fullmatch(params["scope"]):
            return None
        scopes = params["scope"].split(" ")
    else:
        scopes = validator.get_default_scopes(client.client_id, request)
    if not validator.validate_scopes(client.client_id, scopes, client, request):
        return None
    now = timezone.now()
    scope = " ".join(scopes)
    if uses_jwt(client):
        # RFC 9068: self-contained, nothing written (ciam/oauth/jwt_access.py).
        raw = jwt_access_token_issue(
            client=client,
            scope=scope,
            subject=None,
            expires_in=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS,
            now=now,
        )
        return LeanAnswer(_json(_bearer(raw, scope)), grant="client_credentials")
    raw = generate_token()
    _access_token_insert(
        raw=raw,
        client=client,
        user_id=None,
        scope=scope,
        expires=now + timedelta(seconds=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS),
        now=now,
    )
    return LeanAnswer(_json(_bearer(raw, scope)), grant="client_credentials")


def _claim_and_replace(*, previous: Any, now: datetime) -> None:
    """The rotation's first two statements (ciam/oauth/rotation.py): claim the refresh
    token with a conditional UPDATE, delete its access token."""
    connection = connections[router.db_for_write(RefreshToken)]
    quote = connection.ops.quote_name
    refresh_table = quote(RefreshToken._meta.db_table)
    access_table = quote(AccessToken._meta.db_table)
    revoked = RefreshToken._meta.get_field("revoked").get_db_prep_save(now, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {refresh_table} SET {quote('revoked')} = %s, "  # noqa: S608
            f"{quote('access_token_id')} = NULL, {quote('updated')} = %s "
            f"WHERE {quote('id')} = %s AND {quote('revoked')} IS NULL",
            [revoked, revoked, previous.pk],
        )
        if cursor.rowcount != 1:
            raise RefreshTokenRaced(previous.token_family, None)
        if previous.access_token_id is not None:
            cursor.execute(
                f"DELETE FROM {access_table} WHERE {quote('id')} = %s",  # noqa: S608
                [previous.access_token_id],
            )


def _family_context(refresh_token: Any) -> AuthorizationContext | None:
    """The family's authorization context, rebuilt from the lookup's annotations (the
    validator reads it for the ID token's claims, ``CIAMValidator._context_for``)."""
    values = {
        name: getattr(refresh_token, f"ciam_context_{name}") for name in REFRESH_CONTEXT_FIELDS
    }
    if values["id"] is None:
        return None
    for name in ("amr", "claims"):
        if isinstance(values[name], str):  # JSON from a subquery, as text on some backends
            values[name] = json.loads(values[name])
    context = AuthorizationContext(
        application_id=refresh_token.application_id,
        user=refresh_token.user,
        token_family=refresh_token.token_family,
        **values,
    )
    context.ciam_email_verified = refresh_token.ciam_email_verified  # type: ignore[attr-defined]
    return context


def refresh_answer(*, client: AbstractApplication, params: dict[str, str]) -> LeanAnswer | None:
    """RFC 6749 6 with rotation (RFC 9700 4.14.2): claim the refresh token, replace its
    access token, issue the new pair (and, for ``openid``, a new ID token), one transaction.
    A lost race raises ``RefreshTokenRaced`` (the caller revokes the family)."""
    if set(params) - _REFRESH_PARAMS or not params.get("refresh_token"):
        return None
    if not client.allows_grant_type(*_REFRESHING_GRANTS):
        return None
    previous = LIVE_REFRESH_TOKEN_WITH_CONTEXT_LOOKUP.first(token_checksum(params["refresh_token"]))
    if (
        previous is None
        or previous.access_token is None
        or previous.application_id != client.pk
        or previous.user_id is None
        or not previous.user.is_active
    ):
        return None
    now = timezone.now()
    expires = refresh_token_expires_at(
        access_token_expires=previous.access_token.expires,
        family_started=getattr(previous, FAMILY_STARTED, None),
    )
    if expires is not None and expires <= now:
        return None
    request = SimpleNamespace(
        client=client,
        client_id=client.client_id,
        grant_type="refresh_token",
        user=previous.user,
        refresh_token=params["refresh_token"],
        refresh_token_instance=previous,
        claims=None,
        nonce=None,
    )
    oauth_state(request).context = _family_context(previous)
    scope = _validator().get_original_scopes(params["refresh_token"], request)
    scopes = scope.split() if isinstance(scope, str) else list(scope or [])
    request.scopes = scopes
    request.expires_in = oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    raw_access, raw_refresh = generate_access_token(request), generate_token()
    token = _bearer(raw_access, " ".join(scopes), refresh_token=raw_refresh)
    if "openid" in scopes:
        token["id_token"] = _refreshed_id_token(token, request)
    access = {
        "user": previous.user_id,
        "source_refresh_token": previous.pk,
        "token": _stored_token(raw_access),
        "token_checksum": token_checksum(raw_access),
        "application": client.pk,
        "expires": now + timedelta(seconds=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS),
        "scope": token["scope"],
        "resource": [],
        "created": now,
        "updated": now,
    }
    refresh = {
        "user": previous.user_id,
        "token": _stored_token(raw_refresh),
        "token_checksum": token_checksum(raw_refresh),
        "application": client.pk,
        "token_family": previous.token_family or uuid.uuid4(),
        "resource": [],
        "created": now,
        "updated": now,
    }
    _rotate(previous=previous, now=now, access=access, refresh=refresh)
    return LeanAnswer(_json(token), grant="refresh_token")


def _rotate(
    *, previous: Any, now: datetime, access: dict[str, Any], refresh: dict[str, Any]
) -> None:
    """The rotation's writes: claim ``previous`` (a conditional UPDATE only one concurrent
    request wins), delete its access token, insert the new access and refresh tokens.

    On PostgreSQL that is one statement (data-modifying CTEs, each step reading the one
    before: nothing is inserted when the claim finds the token taken), which commits by
    itself: one round trip. Elsewhere, four statements in one transaction."""
    connection = connections[router.db_for_write(RefreshToken)]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic(using=connection.alias):
            _claim_and_replace(previous=previous, now=now)
            refresh["access_token"] = _insert_row(AccessToken, access)
            _insert_row(RefreshToken, refresh)
        return
    statement = _rotation_statement(connection.alias)
    revoked = RefreshToken._meta.get_field("revoked").get_db_prep_save(now, connection)
    prep = [
        revoked,
        revoked,
        previous.pk,
        previous.access_token_id,
        *(
            field.get_db_prep_save(access[field.name], connection)
            for field in statement.access_fields
        ),
        *(
            field.get_db_prep_save(refresh[field.name], connection)
            for field in statement.refresh_fields
        ),
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, prep)
        if cursor.fetchone() is None:
            raise RefreshTokenRaced(previous.token_family, None)


@dataclass(frozen=True)
class _Rotation:
    sql: str
    access_fields: tuple[Any, ...]
    refresh_fields: tuple[Any, ...]


# The new rows' columns in the rotation statement; the new access token's id comes from the
# statement itself.
_ACCESS_COLUMNS = (
    "user",
    "source_refresh_token",
    "token",
    "token_checksum",
    "application",
    "expires",
    "scope",
    "resource",
    "created",
    "updated",
)
_REFRESH_COLUMNS = (
    "user",
    "token",
    "token_checksum",
    "application",
    "token_family",
    "resource",
    "created",
    "updated",
)


@cache
def _rotation_statement(alias: str) -> _Rotation:
    connection = connections[alias]
    quote = connection.ops.quote_name
    refresh_table = quote(RefreshToken._meta.db_table)
    access_table = quote(AccessToken._meta.db_table)
    access_fields = tuple(AccessToken._meta.get_field(name) for name in _ACCESS_COLUMNS)
    refresh_fields = tuple(RefreshToken._meta.get_field(name) for name in _REFRESH_COLUMNS)
    access_columns = ", ".join(quote(field.column) for field in access_fields)
    refresh_columns = ", ".join(quote(field.column) for field in refresh_fields)
    marks = ", ".join(["%s"] * len(access_fields))
    refresh_marks = ", ".join(["%s"] * len(refresh_fields))
    sql = (
        # (Columns written as NULL literals: an untyped NULL parameter in a SELECT list
        # would be text.)
        f"WITH claimed AS (UPDATE {refresh_table} SET revoked = %s, access_token_id = NULL, "  # noqa: S608
        f"updated = %s WHERE id = %s AND revoked IS NULL RETURNING id), "
        f"gone AS (DELETE FROM {access_table} WHERE id = %s "
        f"AND EXISTS (SELECT 1 FROM claimed)), "
        f"fresh AS (INSERT INTO {access_table} ({access_columns}, id_token_id) "
        f"SELECT {marks}, NULL FROM claimed RETURNING id) "
        f"INSERT INTO {refresh_table} ({refresh_columns}, revoked, access_token_id) "
        f"SELECT {refresh_marks}, NULL, fresh.id FROM fresh RETURNING id"
    )
    return _Rotation(sql=sql, access_fields=access_fields, refresh_fields=refresh_fields)


def _at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6 at_hash, as oauthlib computes it (left half of SHA-256)."""
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def _refreshed_id_token(token: dict[str, Any], request: Any) -> str:
    """The ID token oauthlib's refresh grant adds (aud, iat, at_hash, then the validator's
    claims: ``get_id_token_dictionary``), signed; no ``IDToken`` row (module docstring)."""
    validator = _validator()
    request.client_id = request.client.client_id
    request.claims = None
    request.nonce = None
    id_token: dict[str, Any] = {
        "aud": request.client.client_id,
        "iat": int(timezone.now().timestamp()),
        "at_hash": _at_hash(token["access_token"]),
    }
    claims, _expires = validator.get_id_token_dictionary(token, None, request)
    id_token.update(**claims)
    return sign_id_token(id_token, algorithm=id_token_algorithm(request.client))


def token_answer(*, authorization: str, params: dict[str, str]) -> LeanAnswer | None:
    grant_type = params.get("grant_type")
    if grant_type not in ("client_credentials", "refresh_token"):
        return None
    client = authenticated_client(authorization, params)
    if client is None:
        return None
    if grant_type == "client_credentials":
        return client_credentials_answer(client=client, params=params)
    return refresh_answer(client=client, params=params)


# --- introspection and UserInfo ---------------------------------------------------------


def introspection_answer(*, authorization: str, params: dict[str, str]) -> LeanAnswer | None:
    """RFC 7662 for a confidential client: ``token_introspection``, as the view answers."""
    if set(params) - _INTROSPECTION_PARAMS or not params.get("token"):
        return None
    if authenticated_client(authorization, params) is None:
        return None
    data = token_introspection(token=params["token"], hint=params.get("token_type_hint", ""))
    return LeanAnswer(_json(data))


def userinfo_answer(*, authorization: str) -> LeanAnswer | None:
    """OIDC Core 5.3 for a valid Bearer token with ``openid`` of an active user."""
    if not authorization.startswith("Bearer "):
        return None
    raw = authorization[7:]
    if not raw or " " in raw:
        return None
    access_token = ACCESS_TOKEN_LOOKUP.first(token_checksum(raw))
    if (
        access_token is None
        or access_token.user_id is None
        or not access_token.is_valid(["openid"])
        or not access_token.user.is_active
    ):
        return None
    request = SimpleNamespace(
        access_token=access_token,
        user=access_token.user,
        client=access_token.application,
        scopes=list(access_token.scopes),
    )
    claims = _validator().get_userinfo_claims(request)
    if not isinstance(claims, dict) or "sub" not in claims:
        return None
    return LeanAnswer(_json(claims))
