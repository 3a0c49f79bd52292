"""Shared Signals streams (SSF 1.0 8.1), their subjects and the stream's own SETs.

An ``SsfStream`` belongs to the client (``application``) that created it with a
``client_credentials`` token and owns one ``webhooks.Endpoint`` of kind ``ssf``: the webhooks
worker pushes the SETs of outbox events there (formatter ``ssf.delivery.set_request``). The
verification and stream-updated SETs (SSF 1.0 8.1.4, 8.1.5) come from no outbox event: they
are ``SsfControlEvent`` rows, pushed by ``manage.py ssf_deliver`` (ssf/services/control.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings

from .app_settings import DEFAULT_SUBJECTS_ALL, DEFAULT_SUBJECTS_NONE

DELIVERY_METHOD_PUSH = "urn:ietf:rfc:8935"


def new_stream_id() -> str:
    # SSF 1.0 8.1.1: unique, from the RFC 3986 2.3 unreserved characters.
    return uuid.uuid4().hex


class StreamStatus(models.TextChoices):
    # SSF 1.0 8.1.2.1
    ENABLED = "enabled", _("Enabled")
    PAUSED = "paused", _("Paused")
    DISABLED = "disabled", _("Disabled")


class DefaultSubjects(models.TextChoices):
    # SSF 1.0 7.1 default_subjects
    ALL = DEFAULT_SUBJECTS_ALL, _("Every customer of the client")
    NONE = DEFAULT_SUBJECTS_NONE, _("Only added customers")


class SsfStream(models.Model):
    """One event stream to a receiver: what it asked for, what it gets, where and whether."""

    stream_id = models.CharField(_("stream id"), max_length=64, unique=True, default=new_stream_id)
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="ssf_streams",
        verbose_name=_("receiver"),
    )
    endpoint = models.OneToOneField(
        "webhooks.Endpoint",
        on_delete=models.CASCADE,
        related_name="ssf_stream",
        verbose_name=_("push endpoint"),
    )
    aud = models.CharField(_("audience"), max_length=255)
    events_requested = models.JSONField(_("events requested"), default=list, blank=True)
    events_delivered = models.JSONField(_("events delivered"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=StreamStatus.choices, default=StreamStatus.ENABLED
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    status_by_operator = models.BooleanField(
        _("status set by an operator"),
        default=False,
        help_text=_("An operator paused or disabled the stream: the receiver cannot undo it."),
    )
    endpoint_disabled_announced_at = models.DateTimeField(
        _("endpoint disabling announced at"), null=True, blank=True, editable=False
    )
    description = models.CharField(_("description"), max_length=255, blank=True)
    default_subjects = models.CharField(
        _("subjects"), max_length=4, choices=DefaultSubjects.choices, default=DefaultSubjects.ALL
    )
    verification_requested_at = models.DateTimeField(
        _("last verification asked at"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Shared Signals stream")
        verbose_name_plural = _("Shared Signals streams")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.stream_id


class SsfSubject(models.Model):
    """A customer added to (``added``) or removed from a stream (SSF 1.0 8.1.3), by the
    ``sub`` the stream's client knows them by (kept when the account is deleted)."""

    stream = models.ForeignKey(
        SsfStream, on_delete=models.CASCADE, related_name="subjects", verbose_name=_("stream")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer"),
    )
    subject = models.CharField(_("subject"), max_length=255)
    added = models.BooleanField(
        _("added"), default=True, help_text=_("Added to the stream; unset: removed from it.")
    )
    verified = models.BooleanField(_("verified by the receiver"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stream subject")
        verbose_name_plural = _("stream subjects")
        constraints = [
            models.UniqueConstraint(fields=["stream", "subject"], name="ssf_subject_once")
        ]

    def __str__(self) -> str:
        return f"{self.stream_id}: {self.subject}"


class SsfDeletedSubject(models.Model):
    """The ``sub`` a stream's client knew for an account that is gone, kept for the RISC
    account-purged SET: by the time the worker formats it, the account's tokens and grants
    (what says the client knew it) are deleted. Written when the account goes
    (ssf/receivers.py), pruned by ``manage.py ssf_deliver``."""

    stream = models.ForeignKey(
        SsfStream, on_delete=models.CASCADE, related_name="+", verbose_name=_("stream")
    )
    public_subject = models.CharField(_("public subject"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("deleted account's subject")
        verbose_name_plural = _("deleted accounts' subjects")
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "public_subject"], name="ssf_deleted_subject_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.stream_id}: {self.subject}"


class ControlEventKind(models.TextChoices):
    VERIFICATION = "verification", _("Verification")
    STREAM_UPDATED = "stream-updated", _("Stream updated")


class SsfControlEvent(models.Model):
    """A verification or stream-updated SET owed to a stream's receiver, and its pushes."""

    stream = models.ForeignKey(
        SsfStream, on_delete=models.CASCADE, related_name="control_events", verbose_name=_("stream")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ControlEventKind.choices)
    payload = models.JSONField(_("event"), default=dict)
    jti = models.CharField(_("SET id"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stream event")
        verbose_name_plural = _("stream events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["delivered_at", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.stream_id}"

    def event_object(self) -> dict[str, Any]:
        return dict(self.payload or {})
