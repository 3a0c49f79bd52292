from __future__ import annotations

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
