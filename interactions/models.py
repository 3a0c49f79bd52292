"""Interactions that other channels report about customers (store purchases, app opens, page
views, support contacts, campaign clicks), and the links of a client's anonymous ids to the
customers they turned out to be."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings

IDEMPOTENCY_KEY_MAX_LENGTH = 200
ANONYMOUS_ID_MAX_LENGTH = 200


class InteractionType(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    APP_OPEN = "app_open", _("App opened")
    PAGE_VIEW = "page_view", _("Page view")
    SUPPORT_CONTACT = "support_contact", _("Support contact")
    CAMPAIGN_CLICK = "campaign_click", _("Campaign click")


class Channel(models.TextChoices):
    STORE = "store", _("Store")
    APP = "app", _("App")
    WEB = "web", _("Web")
    SUPPORT = "support", _("Support")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    PHONE = "phone", _("Phone")
    SOCIAL = "social", _("Social media")
    PARTNER = "partner", _("Partner")
    OTHER = "other", _("Other")


class Interaction(models.Model):
    """One thing a customer (or a visitor not known yet: ``anonymous_id``) did on a channel,
    as the client that sent it reported it. Stored only under a consent purpose the customer
    granted (anonymous ones: linked to the customer only then)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,  # erasing the account erases its interactions
        null=True,
        blank=True,
        related_name="interactions",
        verbose_name=_("customer"),
    )
    anonymous_id = models.CharField(
        _("anonymous ID"), max_length=ANONYMOUS_ID_MAX_LENGTH, blank=True
    )
    client = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )
    type = models.CharField(_("type"), max_length=32, choices=InteractionType.choices)
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    purpose = models.SlugField(
        _("purpose"), max_length=64, help_text=_("Key of the consent purpose it is used for.")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    linked_at = models.DateTimeField(
        _("linked at"),
        null=True,
        blank=True,
        help_text=_("When an anonymous interaction was linked to the customer."),
    )
    # Its ``interaction.recorded`` outbox event: attributed to the customer when an anonymous
    # interaction is linked (identify), so that erasure forgets it too.
    event = models.ForeignKey(
        "events.OutboxEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("outbox event"),
    )

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [
            # A replayed item is a duplicate: one row per (client, key).
            models.UniqueConstraint(
                fields=["client", "idempotency_key"], name="interaction_idempotency_key"
            )
        ]
        indexes = [
            models.Index(fields=["user", "-occurred_at", "-id"], name="interaction_timeline"),
            models.Index(fields=["client", "anonymous_id"], name="interaction_anonymous"),
            models.Index(fields=["occurred_at"], name="interaction_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.occurred_at:%Y-%m-%d %H:%M}"


class AnonymousLink(models.Model):
    """A client's anonymous id that turned out to be ``user`` (POST /api/interactions/identify):
    the client's later activity under that id is the customer's. ``user`` is empty while the
    visitor is not known yet: the row exists so that ingest and identify lock the same row
    (``select_for_update``) and no item committed concurrently is left anonymous."""

    client = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("client"),
    )
    anonymous_id = models.CharField(_("anonymous ID"), max_length=ANONYMOUS_ID_MAX_LENGTH)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="anonymous_links",
        verbose_name=_("customer"),
    )
    linked_at = models.DateTimeField(_("linked at"), default=timezone.now)

    class Meta:
        verbose_name = _("anonymous ID link")
        verbose_name_plural = _("anonymous ID links")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "anonymous_id"], name="interaction_anonymous_link"
            )
        ]

    def __str__(self) -> str:
        return self.anonymous_id
