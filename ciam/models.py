from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
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

    class Meta(AbstractApplication.Meta):
        verbose_name = _("client application")
        verbose_name_plural = _("client applications")

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
