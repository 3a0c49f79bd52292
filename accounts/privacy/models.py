"""Requests to delete an account (the right to erasure: LGPD Art. 18 VI, GDPR Art. 17).

Part of the ``accounts`` app (``app_label``): accounts/models.py imports this class so that
Django finds it and its migration lives in accounts/migrations.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ErasureRequest(models.Model):
    """One request to erase an account, from the request to its erasure or cancellation.

    The row outlives the account as the record that it was erased, when and by whom: the
    user link is cleared when the user row goes, and ``subject`` (the ``sub`` the relying
    parties knew, not personal data on its own) stays.
    """

    class Actor(models.TextChoices):
        CUSTOMER = "customer", _("The customer")
        OPERATOR = "operator", _("An operator")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="erasure_requests",
        verbose_name=_("user"),
    )
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    requested_by = models.CharField(
        _("requested by"), max_length=16, choices=Actor.choices, default=Actor.CUSTOMER
    )
    requested_at = models.DateTimeField(_("requested at"))
    due_at = models.DateTimeField(_("due at"))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    # Who performed the erasure: "schedule" (erase_due_accounts) or "operator #<id>".
    erased_by = models.CharField(_("erased by"), max_length=64, blank=True)

    class Meta:
        app_label = "accounts"
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["due_at"], name="accounts_erasure_due")]
        constraints = [
            # At most one pending request per account (a double submit records one).
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(cancelled_at__isnull=True, completed_at__isnull=True),
                name="accounts_erasure_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"Erasure of {self.subject or self.user_id} due {self.due_at:%Y-%m-%d}"

    @property
    def pending(self) -> bool:
        return self.cancelled_at is None and self.completed_at is None
