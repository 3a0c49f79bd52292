"""The profile schema as each process reads it, kept for a few seconds: the active fields,
where in the journey an active ask rule may ask, and what each client requires.

They change rarely and are read on every authorization, ID token and UserInfo answer: each
process keeps them for ``SCHEMA_CACHE_SECONDS``. A change of a field, a rule or a client's
settings is seen at once by the process that made it (profiling/receivers.py calls
``schema_forget``) and by the others within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cached_property

from ciam.claims import STANDARD_CLAIMS

from .models import AskRule, ClientProfileSettings, ProfileField

SCHEMA_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Schema:
    """The active fields, in their order."""

    fields: tuple[ProfileField, ...]
    # Positions (profiling.models.Position) where at least one active ask rule may ask.
    rule_positions: frozenset[str] = frozenset()
    # Client (application pk) -> keys of the fields it requires; clients marked transactional.
    required: dict[int, tuple[str, ...]] = dataclass_field(default_factory=dict)
    transactional: frozenset[int] = frozenset()

    @cached_property
    def by_key(self) -> dict[str, ProfileField]:
        return {field.key: field for field in self.fields}

    @cached_property
    def by_claim(self) -> dict[str, ProfileField]:
        return {field.claim: field for field in self.fields if field.claim}

    @cached_property
    def custom_claim_scopes(self) -> dict[str, str]:
        """Custom (non-standard) claim -> the scope that releases it."""
        return {f.claim: f.scope for f in self.fields if f.claim and f.claim not in STANDARD_CLAIMS}


_cached: tuple[float, Schema] | None = None


def schema_current() -> Schema:
    """The active fields (with their consent purpose), from this process's cache."""
    global _cached
    if _cached is not None and _cached[0] > time.monotonic():
        return _cached[1]
    fields = tuple(
        ProfileField.objects.filter(active=True).select_related("purpose").order_by("order", "key")
    )
    positions = frozenset(AskRule.objects.filter(active=True).values_list("position", flat=True))
    required: dict[int, list[str]] = {}
    for application_id, key in ClientProfileSettings.required_fields.through.objects.values_list(
        "clientprofilesettings__application_id", "profilefield__key"
    ):
        required.setdefault(application_id, []).append(key)
    transactional = frozenset(
        ClientProfileSettings.objects.filter(transactional=True).values_list(
            "application_id", flat=True
        )
    )
    schema = Schema(
        fields=fields,
        rule_positions=positions,
        required={pk: tuple(keys) for pk, keys in required.items()},
        transactional=transactional,
    )
    _cached = (time.monotonic() + SCHEMA_CACHE_SECONDS, schema)
    return schema


def schema_forget() -> None:
    """Read the schema again on next use (after a field was saved or deleted)."""
    global _cached
    _cached = None
