"""Signals of the profiling app (definitions only; arguments in the comments)."""

from __future__ import annotations

from django.dispatch import Signal

# A user's profile values changed (after the transaction committed, for profile_update):
# user, changed (field key -> new value, None when removed), source (a ValueSource value).
profile_changed = Signal()
