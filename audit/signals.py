"""Domain events of the audit log (Signal definitions only)."""

from __future__ import annotations

from django.dispatch import Signal

# An entry was appended to the audit log (sent once its transaction committed).
# Arguments: entry (audit.models.AuditEntry).
audit_recorded = Signal()
