"""Reads of the audit log that pages, exports and the console share."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from .models import AuditEntry


def audit_entries_about(*, user: Any) -> QuerySet[AuditEntry]:
    """What happened to ``user``'s account and what they did, newest first."""
    return AuditEntry.objects.filter(Q(subject=user) | Q(actor=user)).order_by("-created_at", "-id")
