"""Receivers of the outbox (endpoints), what each is owed (deliveries) and every attempt.

An ``Endpoint`` is a URL that receives events: a Standard Webhooks 1.0 receiver (kind
``webhook``) or a Shared Signals push receiver (kind ``ssf``, RFC 8935, managed by ssf/). A
``Delivery`` is one event owed to one endpoint, created in the transaction that wrote the
event (services/fanout.py), so a committed event always has its deliveries. The worker
(services/worker.py) sends them, at least once: the ``webhook-id`` is the event's id, the
same on every retry and replay, for the receiver to drop duplicates.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EndpointKind(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook (Standard Webhooks)")
    SSF = "ssf", _("Shared Signals push (SSF)")


class Endpoint(models.Model):
    """A receiver of events, with what it may see: event types, consent purposes, scopes."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=16, choices=EndpointKind.choices, default=EndpointKind.WEBHOOK
    )
    url = models.URLField(_("URL"), max_length=2000)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        verbose_name=_("owner application"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_(
            "The client this endpoint belongs to: subjects are the ones that client sees "
            "(pairwise or public). Empty: the provider's own integration, public subjects."
        ),
    )
    event_types = models.JSONField(
        _("event types"),
        default=list,
        blank=True,
        help_text=_('Catalogue keys or patterns: "*", "user.*", "consent.granted".'),
    )
    purposes = models.JSONField(
        _("consent purposes"),
        default=list,
        blank=True,
        help_text=_("Data under these purposes is sent while the customer consents to them."),
    )
    scopes = models.JSONField(
        _("scopes"),
        default=list,
        blank=True,
        help_text=_("Claims of these scopes may be sent."),
    )
    # Standard Webhooks 1.0 "Signature scheme": whsec_ + base64 of the key (24 bytes here).
    secret = models.CharField(_("signing secret"), max_length=100, blank=True, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    authorization = models.CharField(
        _("Authorization header"),
        max_length=2000,
        blank=True,
        help_text=_("Sent as the Authorization header (SSF push receivers)."),
    )
    active = models.BooleanField(_("active"), default=True)
    # Set by the owner of a paused Shared Signals stream (ssf.services.streams): while the
    # endpoint is off its deliveries are still written, and wait until it is on again.
    held = models.BooleanField(_("holding deliveries while off"), default=False, editable=False)
    disabled_reason = models.CharField(_("why it was disabled"), max_length=500, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("endpoint")
        verbose_name_plural = _("endpoints")
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name or self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed (dead letter)")
    SKIPPED = "skipped", _("Skipped (nothing it may see)")
    CANCELLED = "cancelled", _("Cancelled")


class Delivery(models.Model):
    """One event owed to one endpoint."""

    endpoint = models.ForeignKey(
        Endpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        "events.OutboxEvent",
        verbose_name=_("event"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    # The event's subject, copied: deliveries for one endpoint and subject go in event order.
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    lease_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ("-id",)
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhooks_due_idx"),
            # Deliveries in flight (leased) per endpoint: the per-endpoint cap of a claim.
            models.Index(fields=["status", "lease_until"], name="webhooks_lease_idx"),
            # "No earlier pending delivery for this endpoint and subject" (the claim).
            models.Index(
                fields=["endpoint", "subject", "status", "event"], name="webhooks_order_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhooks_one_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery: when, how long, what the receiver answered."""

    delivery = models.ForeignKey(
        Delivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="log"
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    status_code = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    response_excerpt = models.TextField(_("response excerpt"), blank=True)

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ("-started_at", "-id")

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
