"""The profile schema as each process reads it: the active fields, kept for a few seconds.

Fields change rarely and are read on every ID token and UserInfo answer: each process keeps
them for ``SCHEMA_CACHE_SECONDS``. A change saved in admin (profiling/admin.py) or by a
service is seen at once by the process that made it (``schema_forget``) and by the others
within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

from .models import ProfileField

SCHEMA_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Schema:
    """The active fields, in their order."""

    fields: tuple[ProfileField, ...]

    @cached_property
    def by_key(self) -> dict[str, ProfileField]:
        return {field.key: field for field in self.fields}

    @cached_property
    def by_claim(self) -> dict[str, ProfileField]:
        return {field.claim: field for field in self.fields if field.claim}

    @cached_property
    def by_id(self) -> dict[int, ProfileField]:
        return {field.pk: field for field in self.fields}


_cached: tuple[float, Schema] | None = None


def schema_current() -> Schema:
    """The active fields (with their consent purpose), from this process's cache."""
    global _cached
    if _cached is not None and _cached[0] > time.monotonic():
        return _cached[1]
    fields = tuple(
        ProfileField.objects.filter(active=True).select_related("purpose").order_by("order", "key")
    )
    schema = Schema(fields=fields)
    _cached = (time.monotonic() + SCHEMA_CACHE_SECONDS, schema)
    return schema


def schema_forget() -> None:
    """Read the schema again on next use (after a field was saved or deleted)."""
    global _cached
    _cached = None
