"""Signals of the profiling app (definitions only; arguments in the comments)."""

from __future__ import annotations

from django.dispatch import Signal

# A user's profile values changed (after the transaction committed, for profile_update):
# user, changed (field key -> new value, None when removed), source (a ValueSource value).
profile_changed = Signal()

# The same change, sent synchronously INSIDE the writing transaction (profile_update,
# profile_value_remove), for receivers whose writes must commit or roll back with it (the
# events outbox). Arguments as profile_changed.
profile_written = Signal()
