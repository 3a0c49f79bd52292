"""Passkeys (WebAuthn discoverable credentials) registered to users.

Part of the ``accounts`` app (``app_label``): accounts/models.py imports these classes so
that Django finds them and their migrations live in accounts/migrations.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Passkey(models.Model):
    """One WebAuthn credential: its public key and what the authenticator told us about it.

    A passkey is disabled (``disabled_at``) when something suggests a copy of it exists; a
    disabled passkey never signs in until its owner, signed in another way, re-enables it.
    """

    class DisabledReason(models.TextChoices):
        # WebAuthn L3 6.1.1: a signature counter that does not grow signals a cloned
        # authenticator.
        COUNTER_REGRESSED = "counter_regressed", _("its signature counter went backwards")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="passkeys",
        verbose_name=_("user"),
    )
    credential_id = models.BinaryField(_("credential ID"), max_length=1023, unique=True)
    # COSE_Key (RFC 9052 7) as the authenticator sent it.
    public_key = models.BinaryField(_("public key"))
    sign_count = models.PositiveBigIntegerField(_("signature counter"), default=0)
    # The user.id the credential carries (WebAuthn L3 5.4.3); the same for all of a user's
    # passkeys so that an authenticator keeps one passkey per account.
    user_handle = models.BinaryField(_("user handle"), max_length=64)
    transports = models.JSONField(_("transports"), default=list, blank=True)
    name = models.CharField(_("name"), max_length=64)
    aaguid = models.CharField(_("authenticator model (AAGUID)"), max_length=36, blank=True)
    # Backup state (BS flag, WebAuthn L3 6.1.3): a synced passkey when true.
    backed_up = models.BooleanField(_("backed up"), default=False)
    created = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(
        _("why it was disabled"), max_length=32, choices=DisabledReason.choices, blank=True
    )

    class Meta:
        app_label = "accounts"
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")
        ordering = ["created", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None


class PasskeyOfferDismissal(models.Model):
    """A user said "Not now" to the offer to create a passkey: it is not shown again."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="passkey_offer_dismissal",
        verbose_name=_("user"),
    )
    created = models.DateTimeField(_("dismissed"), default=timezone.now)

    class Meta:
        app_label = "accounts"
        verbose_name = _("passkey offer dismissal")
        verbose_name_plural = _("passkey offer dismissals")

    def __str__(self) -> str:
        return str(self.user)
