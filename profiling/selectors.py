"""Reads of profiles that the pages, the API, the export and admin share."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from .models import ProfileValue, ValueSource
from .schema import schema_current


def _language() -> str:
    return translation.get_language() or "en"


def profile_document(*, user: Any, language: str | None = None) -> dict[str, Any] | None:
    """Every active field of the schema for ``user``: its label, value and, when it has one,
    where the value came from (source, detail, client, when, verified). None when the user
    has no value at all."""
    values = {
        value.field_id: value
        for value in ProfileValue.objects.filter(user=user).select_related("client")
    }
    if not values:
        return None
    language = language or _language()
    fields: dict[str, Any] = {}
    updated_at = None
    for field in schema_current().fields:
        entry: dict[str, Any] = {"label": field.label_for(language), "value": None}
        value = values.get(field.pk)
        if value is not None:
            entry.update(
                value=value.value,
                source=value.source,
                source_label=str(ValueSource(value.source).label)
                if value.source in ValueSource.values
                else value.source,
                source_detail=value.source_detail,
                client=value.client.client_id if value.client else None,
                collected_at=value.collected_at,
                verified=value.verified,
            )
            if updated_at is None or value.collected_at > updated_at:
                updated_at = value.collected_at
        fields[field.key] = entry
    return {"fields": fields, "updated_at": updated_at}
