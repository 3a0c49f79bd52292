"""Domain events of the outbox (Signal definitions only)."""

from __future__ import annotations

from django.dispatch import Signal

# An event was written to the outbox, sent synchronously inside the writing transaction
# (receivers that write, like the webhooks fan-out, commit or roll back with it).
# Arguments: event (events.models.OutboxEvent).
event_written = Signal()

# The transaction that wrote the event committed (transaction.on_commit, robust: a failing
# receiver is logged). Arguments: event (events.models.OutboxEvent).
event_committed = Signal()
