from __future__ import annotations

import ipaddress
import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings

from sessions_ctx.constants import (
    ACR_ONE_FACTOR,
    ACR_PHISHING_RESISTANT,
    ACR_PHISHING_RESISTANT_HARDWARE,
    ACR_TWO_FACTORS,
    ACR_VALUES_SUPPORTED,
)

from .subjects import (
    SUBJECT_LEGACY,
    SUBJECT_PAIRWISE,
    SUBJECT_PUBLIC,
    default_subject_type,
    redirect_uri_hosts,
)

# What a client may demand as its minimum acr (sessions_ctx.constants, weakest first). One
# factor is what every signed-in session has already: "Any" stands for it. A value added to
# ACR_VALUES_SUPPORTED appears here too (under its own name until it gets a label).
_ACR_LABELS = {
    ACR_TWO_FACTORS: _("Two factors"),
    ACR_PHISHING_RESISTANT: _("Phishing-resistant (passkey)"),
    ACR_PHISHING_RESISTANT_HARDWARE: _("Phishing-resistant, hardware key"),
}
MIN_ACR_CHOICES = [
    ("", _("Any")),
    *((acr, _ACR_LABELS.get(acr, acr)) for acr in ACR_VALUES_SUPPORTED if acr != ACR_ONE_FACTOR),
]


class SubjectType(models.TextChoices):
    """What ``sub`` a client sees (ciam/subjects.py, OIDC Core 8)."""

    PUBLIC = SUBJECT_PUBLIC, _("Public: the same for every client")
    PAIRWISE = SUBJECT_PAIRWISE, _("Pairwise: one per sector, unlinkable across sectors")
    LEGACY = SUBJECT_LEGACY, _("Legacy: the database id (clients registered before)")


# A host name (RFC 1123 labels), as ``sector_identifier`` holds it in place of a URI.
_HOST_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_HOST_LABEL}(\.{_HOST_LABEL})*$")


class SessionBoundRefreshTokens(models.TextChoices):
    """Which of a client's refresh tokens end with the browser session that issued them."""

    ONLINE = "online", _("Those granted without offline_access (offline_access outlives it)")
    ALL = "all", _("All of them, offline_access too")
    NONE = "none", _("None: refresh tokens outlive the session")


class AccessTokenFormat(models.TextChoices):
    """What a client's access tokens look like (ciam/oauth/jwt_access.py)."""

    OPAQUE = "opaque", _("Opaque: looked up by the provider")
    JWT = "jwt", _("JWT (RFC 9068): verified with JWKS")


class ClientKind(models.TextChoices):
    """What a client is, which decides its type, grants and redirect URIs (RFC 8252, RFC 9700).

    - web: a server-side application, confidential, authorization code (PKCE allowed);
    - spa: a browser application, public, authorization code with PKCE;
    - native: a mobile or desktop application, public, authorization code with PKCE, redirect
      URIs on loopback or a private-use scheme (RFC 8252 7.1, 7.3);
    - machine: a back end acting for itself, confidential, client credentials only.
    """

    WEB = "web", _("Web application (server-side)")
    SPA = "spa", _("Single-page application (in the browser)")
    NATIVE = "native", _("Native application (mobile or desktop)")
    MACHINE = "machine", _("Machine to machine (a back end, no user)")


# The grants this provider offers (RFC 9700 2.1.2 and 2.4: no implicit, no password; no
# hybrid or device code either). Discovery's grant_types_supported says the same.
SUPPORTED_GRANT_TYPES = (
    AbstractApplication.GRANT_AUTHORIZATION_CODE,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS,
)
GRANT_TYPE_CHOICES = [
    (value, label)
    for value, label in AbstractApplication.GRANT_TYPES
    if value in SUPPORTED_GRANT_TYPES
]

# A client's own colour on the hosted pages: six hex digits, as <input type="color"> gives.
BRAND_COLOR_VALIDATOR = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", _("Give a colour as # and six hex digits, such as #1f5fbf.")
)


class Application(AbstractApplication):
    """An OAuth 2.0 / OpenID Connect client (relying party).

    ``skip_authorization`` marks a first-party client: its users are not asked for consent.
    Its ID tokens are signed with the keys of ciam/keys.py (ciam/oauth/id_tokens.py), not
    with DOT's ``jwk_key`` (one key from ``OIDC_RSA_PRIVATE_KEY``).
    """

    ES256_ALGORITHM = "ES256"
    ALGORITHM_TYPES = (
        (AbstractApplication.NO_ALGORITHM, _("No OIDC support")),
        (AbstractApplication.RS256_ALGORITHM, _("RSA with SHA-2 256")),
        (ES256_ALGORITHM, _("ECDSA P-256 with SHA-2 256")),
    )

    algorithm: models.CharField[str, str] = models.CharField(
        _("ID token signing algorithm"),
        max_length=5,
        choices=ALGORITHM_TYPES,
        default=AbstractApplication.RS256_ALGORITHM,
        blank=True,
    )
    logo_url: models.URLField[str, str] = models.URLField(_("logo URL"), blank=True)
    min_acr: models.CharField[str, str] = models.CharField(
        _("minimum authentication level"),
        max_length=8,
        blank=True,
        choices=MIN_ACR_CHOICES,
        help_text=_("Users are asked to step up to this level before this client gets a code."),
    )
    consent_max_age_days: models.PositiveIntegerField[int | None, int | None] = (
        models.PositiveIntegerField(
            _("consent lasts (days)"),
            null=True,
            blank=True,
            help_text=_(
                "Third-party clients: users are asked again for this client's access this many "
                "days after they allowed it. Empty: until they remove it."
            ),
        )
    )
    subject_type: models.CharField[str, str] = models.CharField(
        _("subject type"),
        max_length=8,
        choices=SubjectType.choices,
        default=default_subject_type,
        help_text=_(
            "The sub this client sees (OIDC Core 8). Changing it changes every user's sub for "
            "this client: its relying party no longer recognises its users."
        ),
    )
    sector_identifier: models.CharField[str, str] = models.CharField(
        _("sector identifier"),
        max_length=253,
        blank=True,
        help_text=_(
            "Pairwise clients: the host name whose clients share pairwise subs (OIDC Core "
            "8.1). Empty: the host of the redirect URIs, which must then be one host. Set it "
            "to the old host before moving a pairwise client to new hosts."
        ),
    )
    backchannel_logout_uri: models.CharField[str, str] = models.CharField(
        _("back-channel logout URI"),
        max_length=512,
        blank=True,
        help_text=_(
            "OIDC Back-Channel Logout 1.0: where this provider POSTs a logout token when a "
            "session in which the client signed a user in ends. https (http only on this "
            "machine while the issuer is http); no fragment. Empty: none sent."
        ),
    )
    backchannel_logout_session_required: models.BooleanField[bool, bool] = models.BooleanField(
        _("back-channel logout needs sid"),
        default=False,
        help_text=_("The client needs the sid claim in logout tokens (they always carry it)."),
    )

    frontchannel_logout_uri: models.CharField[str, str] = models.CharField(
        _("front-channel logout URI"),
        max_length=512,
        blank=True,
        help_text=_(
            "OIDC Front-Channel Logout 1.0: the page this provider loads in a hidden frame "
            "when a session in which the client signed a user in ends. On the scheme, host "
            "and port of a redirect URI; https (http only on this machine while the issuer "
            "is http); no fragment. Empty: none loaded."
        ),
    )
    frontchannel_logout_session_required: models.BooleanField[bool, bool] = models.BooleanField(
        _("front-channel logout needs iss and sid"),
        default=False,
        help_text=_("The front-channel logout URI is loaded with iss and sid parameters."),
    )
    session_bound_refresh_tokens: models.CharField[str, str] = models.CharField(
        _("refresh tokens that end with the session"),
        max_length=8,
        choices=SessionBoundRefreshTokens.choices,
        default=SessionBoundRefreshTokens.ONLINE,
        help_text=_(
            "When the user signs out of the browser session in which this client got its "
            "refresh tokens, these are revoked."
        ),
    )

    access_token_format: models.CharField[str, str] = models.CharField(
        _("access token format"),
        max_length=8,
        choices=AccessTokenFormat.choices,
        default=AccessTokenFormat.OPAQUE,
        help_text=_(
            "JWT: resource servers verify the client's access tokens themselves with the "
            "provider's published keys, and a client credentials token is stored nowhere "
            "(revoking one records it as revoked)."
        ),
    )

    kind: models.CharField[str, str] = models.CharField(
        _("kind"),
        max_length=8,
        choices=ClientKind.choices,
        blank=True,
        help_text=_(
            "Sets the client type and grant: web (confidential, authorization code), "
            "single-page and native (public, authorization code with PKCE), machine "
            "(confidential, client credentials only). Empty: from the client type and grant."
        ),
    )
    client_credentials_enabled: models.BooleanField[bool, bool] = models.BooleanField(
        _("service account (client credentials too)"),
        default=False,
        help_text=_(
            "A confidential client's back end may also get tokens for itself with the client "
            "credentials grant. Never for public clients."
        ),
    )
    allowed_scopes: models.TextField[str, str] = models.TextField(
        _("allowed scopes"),
        blank=True,
        default="",
        help_text=_("Scopes this client may ask for. None chosen: every scope of the provider."),
    )
    brand_color: models.CharField[str, str] = models.CharField(
        _("brand colour"),
        max_length=7,
        blank=True,
        validators=[BRAND_COLOR_VALIDATOR],
        help_text=_(
            "The accent colour of the hosted pages while users sign in "
            "to this client (#rrggbb). Empty: the provider's."
        ),
    )
    # Secret rotation (ciam/client_secrets.py): the hash replaced by the last rotation stays
    # valid for CIAM_CLIENT_SECRET_GRACE_HOURS after ``client_secret_rotated_at``.
    previous_client_secret: models.CharField[str, str] = models.CharField(
        _("previous client secret"), max_length=255, blank=True, default="", editable=False
    )
    client_secret_rotated_at: models.DateTimeField[Any, Any] = models.DateTimeField(
        _("client secret rotated at"), null=True, blank=True, editable=False
    )

    class Meta(AbstractApplication.Meta):
        verbose_name = _("client application")
        verbose_name_plural = _("client applications")

    @property
    def allowed_scope_set(self) -> frozenset[str]:
        """The scopes this client may ask for; empty: every scope of the provider."""
        return frozenset((self.allowed_scopes or "").split())

    def allows_grant_type(self, *grant_types: str) -> bool:
        """The primary grant, or client credentials for a confidential client that has a
        service account (DOT and oauthlib ask this for every grant)."""
        if self.authorization_grant_type in grant_types:
            return True
        return (
            AbstractApplication.GRANT_CLIENT_CREDENTIALS in grant_types
            and self.client_credentials_enabled
            and self.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
            and self.authorization_grant_type in SUPPORTED_GRANT_TYPES
        )

    def get_allowed_schemes(self) -> list[str]:
        """Native clients may also redirect to a private-use scheme (RFC 8252 7.1)."""
        schemes = list(super().get_allowed_schemes())
        if self.kind == ClientKind.NATIVE:
            for uri in (self.redirect_uris or "").split():
                scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
                if _PRIVATE_USE_SCHEME.match(scheme) and scheme not in schemes:
                    schemes.append(scheme)
            if "http" not in schemes:
                schemes.append("http")  # loopback only (_clean_kind)
        return schemes

    def clean(self) -> None:
        # DOT insists on OIDC_RSA_PRIVATE_KEY for RS256; our keys live in SigningKey rows.
        try:
            super().clean()
        except ValidationError as error:
            errors = {
                field: [
                    item for item in items if "OIDC_RSA_PRIVATE_KEY" not in " ".join(item.messages)
                ]
                for field, items in error.error_dict.items()
            }
            errors = {field: items for field, items in errors.items() if items}
            if errors:
                raise ValidationError(errors) from error
        self._clean_sector_identifier()
        self._clean_backchannel_logout_uri()
        self._clean_frontchannel_logout_uri()
        self._clean_grants_and_kind()
        self._clean_allowed_scopes()

    def _clean_grants_and_kind(self) -> None:
        # RFC 9700 2.1.2 and 2.4: implicit and password are not offered, nor hybrid or device.
        errors: dict[str, list[Any]] = {}
        if self.authorization_grant_type not in SUPPORTED_GRANT_TYPES:
            errors.setdefault("authorization_grant_type", []).append(
                _("This provider offers the authorization code and client credentials grants only.")
            )
        if not self.kind and not errors:
            self.kind = client_kind_inferred(self)
        public = self.client_type == AbstractApplication.CLIENT_PUBLIC
        machine = self.authorization_grant_type == AbstractApplication.GRANT_CLIENT_CREDENTIALS
        if machine:
            self.client_credentials_enabled = False  # its primary grant already
        elif public and self.client_credentials_enabled:
            errors.setdefault("client_credentials_enabled", []).append(
                _("A public client has no secret: it cannot use client credentials.")
            )
        if machine and public:
            errors.setdefault("client_type", []).append(
                _("The client credentials grant needs a confidential client.")
            )
        expected = (
            _KIND_RULES.get(ClientKind(self.kind)) if self.kind in ClientKind.values else None
        )
        if expected is not None and not errors:
            client_type, grant = expected
            if (self.client_type, self.authorization_grant_type) != (client_type, grant):
                errors.setdefault("kind", []).append(
                    _("This kind of client is %(client_type)s with the %(grant)s grant.")
                    % {
                        "client_type": dict(AbstractApplication.CLIENT_TYPES)[client_type],
                        "grant": dict(AbstractApplication.GRANT_TYPES)[grant],
                    }
                )
        redirect_uris = (self.redirect_uris or "").split()
        if self.kind == ClientKind.MACHINE and redirect_uris:
            errors.setdefault("redirect_uris", []).append(
                _("A machine client signs no user in: it has no redirect URIs.")
            )
        if self.kind == ClientKind.NATIVE:
            for uri in redirect_uris:
                if not native_redirect_uri_allowed(uri):
                    errors.setdefault("redirect_uris", []).append(
                        _(
                            "%(uri)s: a native client redirects to a loopback address "
                            "(http://127.0.0.1/...), a private-use scheme named after a "
                            "domain (com.example.app:/callback) or https (RFC 8252)."
                        )
                        % {"uri": uri}
                    )
        if errors:
            raise ValidationError(errors)

    def _clean_allowed_scopes(self) -> None:
        scopes = (self.allowed_scopes or "").split()
        unknown = [scope for scope in scopes if scope not in oauth2_settings.SCOPES]
        if unknown:
            raise ValidationError(
                {"allowed_scopes": _("Unknown scopes: %(scopes)s.") % {"scopes": " ".join(unknown)}}
            )
        self.allowed_scopes = " ".join(dict.fromkeys(scopes))

    def _clean_backchannel_logout_uri(self) -> None:
        # OIDC Back-Channel Logout 1.0 2.2: an absolute https URI (http allowed for development
        # here: loopback hosts only, and only while the issuer itself is http); no fragment.
        self.backchannel_logout_uri = (self.backchannel_logout_uri or "").strip()
        uri = self.backchannel_logout_uri
        if not uri:
            return
        message = backchannel_logout_uri_error(uri)
        if message:
            raise ValidationError({"backchannel_logout_uri": message})

    def _clean_frontchannel_logout_uri(self) -> None:
        # OIDC Front-Channel Logout 1.0 2: an absolute URI (https here, as for back-channel),
        # no fragment, on the scheme, host and port of a registered redirect URI.
        self.frontchannel_logout_uri = (self.frontchannel_logout_uri or "").strip()
        uri = self.frontchannel_logout_uri
        if not uri:
            return
        message = frontchannel_logout_uri_error(uri)
        if not message and _origin(uri) not in {
            _origin(redirect) for redirect in (self.redirect_uris or "").split()
        }:
            message = str(
                _(
                    "A front-channel logout URI must have the scheme, host and port of a "
                    "redirect URI of this client."
                )
            )
        if message:
            raise ValidationError({"frontchannel_logout_uri": message})

    def _clean_sector_identifier(self) -> None:
        # OIDC Core 8.1: with redirect URIs on several hosts the sector is not implied.
        self.sector_identifier = (self.sector_identifier or "").strip().lower()
        if self.sector_identifier and not _HOST_NAME.match(self.sector_identifier):
            raise ValidationError(
                {"sector_identifier": _("Give a host name, such as shop.example.com.")}
            )
        if (
            self.subject_type == SubjectType.PAIRWISE
            and not self.sector_identifier
            and len(redirect_uri_hosts(self.redirect_uris or "")) > 1
        ):
            raise ValidationError(
                {
                    "sector_identifier": _(
                        "A pairwise client with redirect URIs on several hosts needs a sector "
                        "identifier (OIDC Core 8.1)."
                    )
                }
            )


# Kind -> (client type, primary grant).
_KIND_RULES = {
    ClientKind.WEB: (
        AbstractApplication.CLIENT_CONFIDENTIAL,
        AbstractApplication.GRANT_AUTHORIZATION_CODE,
    ),
    ClientKind.SPA: (
        AbstractApplication.CLIENT_PUBLIC,
        AbstractApplication.GRANT_AUTHORIZATION_CODE,
    ),
    ClientKind.NATIVE: (
        AbstractApplication.CLIENT_PUBLIC,
        AbstractApplication.GRANT_AUTHORIZATION_CODE,
    ),
    ClientKind.MACHINE: (
        AbstractApplication.CLIENT_CONFIDENTIAL,
        AbstractApplication.GRANT_CLIENT_CREDENTIALS,
    ),
}

# RFC 8252 7.1: a private-use URI scheme is a reverse domain name (com.example.app).
_PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "::1", "localhost"})


def is_private_use_scheme(scheme: str) -> bool:
    """Whether ``scheme`` is a private-use URI scheme named after a domain (RFC 8252 7.1:
    ``com.example.app``), as a native client's redirect URI may use."""
    return bool(_PRIVATE_USE_SCHEME.match(scheme or ""))


def client_kind_defaults(kind: str) -> tuple[str, str]:
    """(client type, primary grant) of a kind of client (ClientKind)."""
    return _KIND_RULES[ClientKind(kind)]


def client_kind_inferred(application: AbstractApplication) -> str:
    """The kind a client registered without one is: machine for client credentials, web for
    other confidential clients, native for public ones with a loopback or private-use
    redirect URI, else single-page."""
    if application.authorization_grant_type == AbstractApplication.GRANT_CLIENT_CREDENTIALS:
        return ClientKind.MACHINE
    if application.client_type == AbstractApplication.CLIENT_CONFIDENTIAL:
        return ClientKind.WEB
    uris = (application.redirect_uris or "").split()
    if any(_is_native_only_redirect(uri) for uri in uris):
        return ClientKind.NATIVE
    return ClientKind.SPA


def _is_native_only_redirect(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.scheme == "http":
        return (parts.hostname or "") in ("127.0.0.1", "::1")
    return bool(_PRIVATE_USE_SCHEME.match(parts.scheme))


def native_redirect_uri_allowed(uri: str) -> bool:
    """RFC 8252 7: a native app's redirect URI is a private-use scheme named after a domain
    (7.1), https (7.2) or http on a loopback address (7.3), without fragment."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    if parts.fragment:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme == "http":
        return (parts.hostname or "") in _LOOPBACK_HOSTS
    return bool(_PRIVATE_USE_SCHEME.match(parts.scheme))


class _LogoutUriMessages(NamedTuple):
    example: Any
    fragment: Any
    credentials: Any
    https: Any


_BACKCHANNEL_URI_MESSAGES = _LogoutUriMessages(
    _("Give an absolute URL, such as https://rp.example.com/backchannel-logout."),
    _("A back-channel logout URI has no fragment (#...)."),
    _("A back-channel logout URI carries no user name or password."),
    _(
        "A back-channel logout URI must use https (http only for localhost or a "
        "loopback address, while the issuer is http)."
    ),
)
_FRONTCHANNEL_URI_MESSAGES = _LogoutUriMessages(
    _("Give an absolute URL, such as https://rp.example.com/frontchannel-logout."),
    _("A front-channel logout URI has no fragment (#...)."),
    _("A front-channel logout URI carries no user name or password."),
    _(
        "A front-channel logout URI must use https (http only for localhost or a "
        "loopback address, while the issuer is http)."
    ),
)


def _logout_uri_error(uri: str, messages: _LogoutUriMessages) -> str:
    """Why ``uri`` cannot be a logout URI, or "" when it can: an absolute http(s) URL, no
    fragment or credentials, https unless on loopback while the issuer is http."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return str(messages.example)
    if parts.scheme not in ("http", "https") or not host or " " in uri:
        return str(messages.example)
    if parts.fragment or uri.endswith("#"):
        return str(messages.fragment)
    if parts.username or parts.password:
        return str(messages.credentials)
    if parts.scheme == "http":
        issuer_is_http = str(oauth2_settings.OIDC_ISS_ENDPOINT or "").startswith("http://")
        if not (issuer_is_http and _is_loopback_host(host)):
            return str(messages.https)
    return ""


def backchannel_logout_uri_error(uri: str) -> str:
    """Why ``uri`` cannot be a back-channel logout URI, or "" when it can."""
    return _logout_uri_error(uri, _BACKCHANNEL_URI_MESSAGES)


def frontchannel_logout_uri_error(uri: str) -> str:
    """Why ``uri`` cannot be a front-channel logout URI, or "" when it can (the rules of
    ``backchannel_logout_uri_error``; the same-origin rule is the client's clean)."""
    return _logout_uri_error(uri, _FRONTCHANNEL_URI_MESSAGES)


def _origin(uri: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port made explicit; never raises."""
    try:
        parts = urlsplit(uri)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return ("", "", None)
    return (parts.scheme, (parts.hostname or "").lower(), port)


def _is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BackchannelLogoutDelivery(models.Model):
    """One logout token owed to one client for one ended session (OIDC Back-Channel Logout
    1.0 2.5). Sent after the sign-out commits; failures are retried with backoff by
    ``manage.py deliver_backchannel_logouts`` until delivered or out of attempts."""

    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    sid = models.CharField(max_length=64, db_index=True)
    sub = models.CharField(max_length=255)
    jti = models.CharField(_("JWT ID of the last token sent"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text=_("Empty once delivered or given up."),
    )

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("back-channel logout delivery")
        verbose_name_plural = _("back-channel logout deliveries")

    def __str__(self) -> str:
        return f"{self.application_id} sid={self.sid} attempts={self.attempts}"


class RevokedAccessToken(models.Model):
    """A revoked JWT access token that no row stands for (ciam/oauth/jwt_access.py), kept
    until it expires: the provider refuses it from the next request on."""

    jti = models.CharField(max_length=64, primary_key=True)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("revoked JWT access token")
        verbose_name_plural = _("revoked JWT access tokens")

    def __str__(self) -> str:
        return self.jti


class SigningKey(models.Model):
    """A private key that signs ID tokens, published in JWKS while tokens it signed live."""

    class Algorithm(models.TextChoices):
        RS256 = "RS256", "RS256"
        ES256 = "ES256", "ES256"

    kid = models.CharField(_("key ID"), max_length=64, unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=5, choices=Algorithm.choices)
    private_pem = models.TextField(_("private key (PEM)"))
    created = models.DateTimeField(_("created"), auto_now_add=True)
    active_from = models.DateTimeField(
        _("signs from"),
        help_text=_("Published at once; signs from this time on, once every process knows it."),
    )
    retired_at = models.DateTimeField(
        _("retired at"),
        null=True,
        blank=True,
        help_text=_("No longer signs; still published until the tokens it signed expire."),
    )

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")

    def __str__(self) -> str:
        return f"{self.algorithm} {self.kid}"


class AuthorizationContext(models.Model):
    """What the authorization step knew, carried to every token issued from one code.

    Linked to the code by its hash (replay detection) and to the refresh-token family that
    the code started (refreshed ID tokens keep auth_time, sid, acr, amr; UserInfo honours the
    ``claims`` request parameter).
    """

    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True)
    token_family = models.UUIDField(null=True, blank=True, db_index=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    sid = models.CharField(max_length=64, blank=True, db_index=True)
    auth_time = models.BigIntegerField()
    amr = models.JSONField(default=list, blank=True)
    acr = models.CharField(max_length=32, blank=True)
    claims = models.JSONField(default=dict, blank=True)
    offline = models.BooleanField(
        default=False, help_text=_("Granted offline_access: its tokens outlive the session.")
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("authorization context")
        verbose_name_plural = _("authorization contexts")

    def __str__(self) -> str:
        return f"{self.application_id}/{self.user_id} @ {self.created:%Y-%m-%d %H:%M}"
