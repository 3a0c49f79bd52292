"""Reads of profiles that the pages, the API, the export and admin share."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from consent.selectors import purposes_granted

from .models import ProfileField, ProfileQuestion, ProfileValue, ValueSource
from .schema import schema_current


def _language() -> str:
    return translation.get_language() or "en"


def profile_document(*, user: Any, language: str | None = None) -> dict[str, Any] | None:
    """What the profile holds about ``user`` (the data export): every active field of the
    schema, and every deactivated one that still has a value, with its label, value and,
    when it has one, where it came from (source, detail, client, when, verified); and the
    questions asked, with their context and outcome. None when there is nothing."""
    values = {
        value.field_id: value
        for value in ProfileValue.objects.filter(user=user).select_related("client", "field")
    }
    questions = list(
        ProfileQuestion.objects.filter(user=user)
        .select_related("field", "client")
        .order_by("shown_at")
    )
    if not values and not questions:
        return None
    language = language or _language()
    schema_fields = list(schema_current().fields)
    shown_ids = {field.pk for field in schema_fields}
    schema_fields += [v.field for v in values.values() if v.field_id not in shown_ids]
    fields: dict[str, Any] = {}
    updated_at = None
    for field in schema_fields:
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
    return {
        "fields": fields,
        "updated_at": updated_at,
        "questions": [
            {
                "field": question.field.key,
                "shown_at": question.shown_at,
                "outcome": question.outcome,
                "client": question.client.client_id if question.client else None,
                "position": question.position,
                "required": question.required,
                "context": question.context,
            }
            for question in questions
        ],
    }


def account_fields(*, user: Any) -> list[ProfileField]:
    """The active fields the customer may fill in the account area (``editable``): those
    without a consent purpose, and those whose purpose the customer granted."""
    fields = list(schema_current().fields)
    needed = {f.purpose_id for f in fields if f.purpose_id}
    granted = purposes_granted(user=user, purpose_ids=needed) if needed else set()
    return [f for f in fields if f.editable and (not f.purpose_id or f.purpose_id in granted)]
