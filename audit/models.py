"""The audit log: who changed what about a customer, when and from where (append-only)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditImmutableError(RuntimeError):
    """The audit log is append-only: entries are never changed or deleted."""


# Set only by audit.services.audit_erase, for the one change the log allows: forgetting an
# erased person (their links, names, addresses and the values recorded about them).
_erasure_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "audit_erasure", default=False
)
ERASABLE_FIELDS = frozenset(
    {
        "actor",
        "actor_id",
        "actor_label",
        "subject",
        "subject_id",
        "subject_label",
        "target_repr",
        "changes",
        "ip",
        "user_agent",
        "erased",
    }
)


@contextlib.contextmanager
def audit_erasure() -> Iterator[None]:
    """Within this block (and only here) the log's queryset accepts the anonymising
    ``update(...)`` of ``ERASABLE_FIELDS``."""
    token = _erasure_allowed.set(True)
    try:
        yield
    finally:
        _erasure_allowed.reset(token)


class ActorKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    OPERATOR = "operator", _("Operator")
    SYSTEM = "system", _("System")


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """Refuses bulk changes: ``update`` only for erasure, ``delete`` never."""

    def update(self, **kwargs: Any) -> int:
        if not _erasure_allowed.get() or not set(kwargs) <= ERASABLE_FIELDS:
            raise AuditImmutableError("Audit entries cannot be updated.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditImmutableError("Audit entries cannot be deleted.")


AuditEntryManager = models.Manager.from_queryset(AuditEntryQuerySet)


class AuditEntry(models.Model):
    """One change about a customer or one operator action, as it happened.

    Append-only: ``save()`` of an existing entry and ``delete()`` raise, and on PostgreSQL a
    trigger refuses UPDATE and DELETE (migration 0002). Erasing a person
    (``audit.services.audit_erase``, run before their user row is deleted) is the one
    exception: the entry stays, without its links to them, their name, address, browser or
    the values recorded about them.
    """

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    # Who it was, kept when the actor's account is deleted (pseudonymised if it is erased).
    actor_label = models.CharField(_("actor (as recorded)"), max_length=200, blank=True)
    actor_kind = models.CharField(
        _("actor kind"), max_length=16, choices=ActorKind.choices, db_index=True
    )
    action = models.CharField(_("action"), max_length=100, db_index=True)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer"),
    )
    subject_label = models.CharField(_("customer (as recorded)"), max_length=200, blank=True)
    target_content_type = models.ForeignKey(
        ContentType,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target type"),
    )
    target_id = models.CharField(_("target ID"), max_length=64, blank=True, db_index=True)
    target_repr = models.CharField(_("target"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    request_id = models.CharField(_("request ID"), max_length=64, blank=True)
    erased = models.BooleanField(_("person erased"), default=False)

    objects = AuditEntryManager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subject", "-created_at"]),
            models.Index(fields=["actor", "-created_at"]),
            models.Index(fields=["target_content_type", "target_id"]),
        ]

    def __str__(self) -> str:
        who = self.actor_label or self.get_actor_kind_display()
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who}: {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutableError("Audit entries cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditImmutableError("Audit entries cannot be deleted.")
