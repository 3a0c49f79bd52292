"""Connects the live monitor to the outbox (events.signals.event_committed)."""

from __future__ import annotations

from events.signals import event_committed

from .publisher import monitor_event_committed

event_committed.connect(monitor_event_committed, dispatch_uid="console.monitor.publish")
