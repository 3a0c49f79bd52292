"""Browser sessions, the browsers a user is known on, and the risk engine's policy and decisions.

- ``BrowserSession``: one row per signed-in browser session at the provider (not per
  request): who, how they authenticated, from which browser, network and place; ended
  sessions stay as history (the account's security activity, the risk engine's memory).
- ``UserDevice``: a browser (its device cookie's random id) on which a user's sign-in was
  allowed or confirmed. "New device" means: no such row yet.
- ``RiskPolicy`` and ``RiskRule``: what to do about each finding, for every client (the
  default policy) or for one client (its own policy replaces the default).
- ``RiskDecision``: each decision with its findings, and how a step-up resolved it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings


class Confidence(models.TextChoices):
    LOW = "low", _("low")
    MEDIUM = "medium", _("medium")
    HIGH = "high", _("high")


CONFIDENCE_RANK = {Confidence.LOW: 1, Confidence.MEDIUM: 2, Confidence.HIGH: 3}


class FindingCode(models.TextChoices):
    NEW_DEVICE = "new_device", _("New device")
    NEW_NETWORK = "new_network", _("New network")
    NEW_COUNTRY = "new_country", _("New country")
    NEW_ASN = "new_asn", _("New internet provider")
    IMPOSSIBLE_TRAVEL = "impossible_travel", _("Impossible travel")
    USER_AGENT_CHANGED = "user_agent_changed", _("Browser changed within a session")
    VELOCITY = "velocity", _("Many sign-ins in a short time")
    FAILED_ATTEMPTS = "failed_attempts", _("Failed attempts before success")
    BAD_ADDRESS = "bad_address", _("Address on a block list")


class Action(models.TextChoices):
    """Ordered from mildest to strictest (``ACTION_RANK``)."""

    ALLOW = "allow", _("Allow")
    STEP_UP = "step_up", _("Require step-up")
    END_SESSION = "end_session", _("End the session")
    BLOCK = "block", _("Block and notify the user")


ACTION_RANK = {Action.ALLOW: 0, Action.STEP_UP: 1, Action.END_SESSION: 2, Action.BLOCK: 3}


class EndReason(models.TextChoices):
    SIGNED_OUT = "signed_out", _("Signed out")
    REVOKED_BY_USER = "revoked_by_user", _("Signed out from another session")
    REVOKED_BY_OPERATOR = "revoked_by_operator", _("Signed out by an administrator")
    RISK = "risk", _("Ended for your protection")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    EXPIRED = "expired", _("Expired")


class BrowserSession(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="browser_sessions"
    )
    # The Django session key (rotated on authentication and privilege change; kept current
    # here so that the session can be ended from elsewhere). Empty once ended.
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    # The OP session id relying parties see in ID tokens (stable across rotations).
    sid = models.CharField(max_length=64, db_index=True)
    device_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    auth_time = models.DateTimeField()
    amr = models.JSONField(default=list, blank=True)
    acr = models.CharField(max_length=16, blank=True)
    keep_signed_in = models.BooleanField(default=True)
    expires_at = models.DateTimeField(help_text=_("Absolute end, whatever the activity."))
    ip = models.GenericIPAddressField(null=True, blank=True)
    network = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    browser = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=64, blank=True)
    device_type = models.CharField(max_length=16, blank=True)
    country = models.CharField(max_length=2, blank=True)
    city = models.CharField(max_length=128, blank=True)
    asn = models.PositiveIntegerField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # False while a step-up the risk policy asked for is outstanding: an unconfirmed
    # session's network, place and device are not "known" to the risk engine.
    confirmed = models.BooleanField(default=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, choices=EndReason.choices, blank=True)

    class Meta:
        verbose_name = _("browser session")
        verbose_name_plural = _("browser sessions")
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="sessions_user_created")]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.browser_label} · {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    @property
    def browser_label(self) -> str:
        parts = [part for part in (self.browser, self.os) if part]
        return " · ".join(parts) or str(_("Unknown browser"))

    @property
    def place(self) -> str:
        return ", ".join(part for part in (self.city, self.country) if part)


class UserDevice(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="known_devices"
    )
    device_id = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    label = models.CharField(max_length=160, blank=True)

    class Meta:
        verbose_name = _("known device")
        verbose_name_plural = _("known devices")
        constraints = [
            models.UniqueConstraint(fields=["user", "device_id"], name="sessions_device_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.label or self.device_id[:8]}"


class RiskPolicy(models.Model):
    name = models.CharField(_("name"), max_length=100)
    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="risk_policy",
        verbose_name=_("client"),
        help_text=_("Empty: the default policy, for every client without a policy of its own."),
    )

    class Meta:
        verbose_name = _("risk policy")
        verbose_name_plural = _("risk policies")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.application_id is None:
            others = RiskPolicy.objects.filter(application__isnull=True).exclude(pk=self.pk)
            if others.exists():
                raise ValidationError(
                    {"application": _("There is already a default policy: choose a client.")}
                )


class RiskRule(models.Model):
    policy = models.ForeignKey(RiskPolicy, on_delete=models.CASCADE, related_name="rules")
    finding = models.CharField(_("finding"), max_length=32, choices=FindingCode.choices)
    min_confidence = models.CharField(
        _("from confidence"), max_length=8, choices=Confidence.choices, default=Confidence.LOW
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)

    class Meta:
        verbose_name = _("risk rule")
        verbose_name_plural = _("risk rules")
        ordering = ["policy", "finding", "min_confidence"]

    def __str__(self) -> str:
        return f"{self.get_finding_display()} ≥ {self.min_confidence} → {self.action}"


class RiskDecision(models.Model):
    class Trigger(models.TextChoices):
        SIGN_IN = "sign_in", _("Sign-in")
        CONTEXT_CHANGE = "context_change", _("Session used from a changed context")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_decisions"
    )
    session = models.ForeignKey(
        BrowserSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    client_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    # [{"code": ..., "confidence": ..., "params": {...}}]; the reason is worded when shown
    # (risk.findings.finding_reason), in the reader's language.
    findings = models.JSONField(default=list, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    device_label = models.CharField(max_length=160, blank=True)
    place = models.CharField(max_length=160, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # How the step-up was met: an RFC 8176 amr value ("hwk", "otp", "pwd"...) or empty.
    resolved_with = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name = _("risk decision")
        verbose_name_plural = _("risk decisions")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.action} · {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def finding_codes(self) -> list[str]:
        return [str(item.get("code", "")) for item in self.findings if isinstance(item, dict)]

    def finding_list(self) -> list[dict[str, Any]]:
        return [item for item in self.findings if isinstance(item, dict)]
