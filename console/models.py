from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Metric(models.TextChoices):
    """Figures nothing else records, counted per day (console/metrics.py)."""

    SIGN_IN_PAGE_VIEW = "signin_page_view", _("Sign-in page views")
    # label: "<method>" (password, email_code, passkey, social:<provider>, other)
    SIGN_IN_SUCCESS = "signin_success", _("Successful sign-ins")
    # label: "<method>"; Django's user_login_failed (wrong password or unknown account)
    SIGN_IN_FAILURE = "signin_failure", _("Failed sign-ins")
    # label: "<method>": sign-ins that needed a second factor
    SECOND_FACTOR = "second_factor", _("Sign-ins with a second factor")


class DailyCount(models.Model):
    """How many times ``metric`` (with ``label``) happened on ``day`` (UTC)."""

    day = models.DateField(_("day"))
    metric = models.CharField(_("metric"), max_length=32, choices=Metric.choices)
    label = models.CharField(_("label"), max_length=64, blank=True)
    count = models.PositiveBigIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("daily count")
        verbose_name_plural = _("daily counts")
        constraints = [
            models.UniqueConstraint(fields=["metric", "day", "label"], name="console_count_once")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} {self.label}: {self.count}"
