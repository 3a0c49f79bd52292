from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings


class Consent(models.Model):
    """A user's standing permission for a client to receive some scopes and claims."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    scopes = models.JSONField(_("scopes"), default=list)
    claims = models.JSONField(_("individually requested claims"), default=list, blank=True)
    granted_at = models.DateTimeField(_("granted at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(fields=["user", "application"], name="consent_one_per_client")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.application_id}: {' '.join(self.scopes)}"

    def covers(self, scopes: list[str], claims: list[str]) -> bool:
        return (
            self.revoked_at is None
            and set(scopes) <= set(self.scopes)
            and set(claims) <= set(self.claims)
        )
