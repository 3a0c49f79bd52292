"""An emailed sign-in: the code and link one email carries, from request to use."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailSignIn(models.Model):
    """One email with a numeric code and a one-click link, for sign-in or sign-up.

    Secrets are stored hashed: the code (HMAC with the server key, bound to this row's link),
    the link token and the requesting browser's nonce (SHA-256). No user is recorded: the
    address is resolved to an account only when the code or link is used, so asking for a
    code does the same work whether or not an account exists.
    """

    email = models.EmailField(_("email address"))
    code_hash = models.CharField(_("code hash"), max_length=64)
    link_hash = models.CharField(_("link hash"), max_length=64, unique=True)
    browser_hash = models.CharField(_("browser hash"), max_length=64)
    match_number = models.PositiveSmallIntegerField(_("confirmation number"))
    next_url = models.CharField(_("next URL"), max_length=2000, blank=True)
    user_agent = models.CharField(_("requested from"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("last sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    failed_attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    confirmed_at = models.DateTimeField(_("confirmed on another device at"), null=True, blank=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        app_label = "accounts"
        verbose_name = _("email sign-in")
        verbose_name_plural = _("email sign-ins")
        indexes = [models.Index(fields=["expires_at"], name="accounts_emailsignin_expires")]

    def __str__(self) -> str:
        return f"{self.email} ({self.created_at:%Y-%m-%d %H:%M})"

    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at
