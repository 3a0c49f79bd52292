"""Registering relying parties (OAuth clients)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AbstractApplication, get_application_model

from ..subjects import default_subject_type

ClientKind = Literal["web", "spa", "native", "service"]


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str  # the only time it is known in clear; "" for public clients
    application_id: int
    subject_type: str = ""  # public, pairwise or legacy (ciam/subjects.py)


def client_register(
    *,
    name: str,
    kind: ClientKind,
    redirect_uris: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    first_party: bool = False,
    algorithm: str = AbstractApplication.RS256_ALGORITHM,
    client_id: str | None = None,
    client_secret: str | None = None,
    subject_type: str | None = None,
    sector_identifier: str = "",
    backchannel_logout_uri: str = "",
    backchannel_logout_session_required: bool = False,
    frontchannel_logout_uri: str = "",
    frontchannel_logout_session_required: bool = False,
    session_bound_refresh_tokens: str = "online",
    access_token_format: str = "opaque",  # noqa: S107 - a format name, not a secret
) -> RegisteredClient:
    """Register a confidential web app, a public SPA/native app or a machine client.

    - web: authorization code (+ refresh), client_secret_basic/post, PKCE optional.
    - spa: public, authorization code with PKCE S256 required, no secret.
    - native: public like spa, with loopback or private-use-scheme redirects (RFC 8252).
    - service: client_credentials only, no user.
    The secret is returned once and stored as a keyed hash.

    ``subject_type`` (``public``, ``pairwise`` or ``legacy``; None: CIAM_DEFAULT_SUBJECT_TYPE)
    decides the ``sub`` the client sees (ciam/subjects.py); a pairwise client whose redirect
    URIs are on several hosts needs ``sector_identifier``, a host name (OIDC Core 8.1).
    ``backchannel_logout_uri`` (https; http only on loopback while the issuer is http) gets a
    logout token when a session that signed a user in to the client ends (OIDC Back-Channel
    Logout 1.0). ``frontchannel_logout_uri`` (on a redirect URI's scheme, host and port) is
    loaded in a hidden frame after such a sign-out (OIDC Front-Channel Logout 1.0).
    ``session_bound_refresh_tokens`` ("online", "all", "none") says which refresh tokens end
    with the session that issued them. ``access_token_format`` "jwt" makes its access tokens
    RFC 9068 JWTs (ciam/oauth/jwt_access.py).
    Raises ``django.core.exceptions.ValidationError`` for an invalid registration.
    """
    Application = get_application_model()
    confidential = kind not in ("spa", "native")
    secret = (client_secret or generate_client_secret()) if confidential else ""
    grant = (
        AbstractApplication.GRANT_CLIENT_CREDENTIALS
        if kind == "service"
        else AbstractApplication.GRANT_AUTHORIZATION_CODE
    )
    application = Application(
        name=name,
        client_type=(
            AbstractApplication.CLIENT_CONFIDENTIAL
            if confidential
            else AbstractApplication.CLIENT_PUBLIC
        ),
        authorization_grant_type=grant,
        redirect_uris=" ".join(redirect_uris or []),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris or []),
        skip_authorization=first_party,
        algorithm=algorithm if kind != "service" else AbstractApplication.NO_ALGORITHM,
        client_secret=secret,
        # A public client has no secret: store none (hashing "" would store a hash of it).
        hash_client_secret=confidential,
        subject_type=subject_type or default_subject_type(),
        sector_identifier=sector_identifier,
        backchannel_logout_uri=backchannel_logout_uri,
        backchannel_logout_session_required=backchannel_logout_session_required,
        frontchannel_logout_uri=frontchannel_logout_uri,
        frontchannel_logout_session_required=frontchannel_logout_session_required,
        session_bound_refresh_tokens=session_bound_refresh_tokens,
        access_token_format=access_token_format,
        kind={"service": "machine"}.get(kind, kind),
    )
    if client_id:
        application.client_id = client_id
    application.full_clean()
    application.save()
    return RegisteredClient(
        client_id=application.client_id,
        client_secret=secret,
        application_id=application.pk,
        subject_type=application.subject_type,
    )
