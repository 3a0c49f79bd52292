"""Reads of profiles that the pages, the API, the export and admin share."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone, translation
from django.utils.dates import MONTHS_3
from django.utils.translation import get_language, pgettext

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


def _provenance_date(value: datetime.datetime | datetime.date) -> str:
    """A day as the customer reads it in their language ("3 Dec", "3 de dez."), with its
    year when it is not this year's."""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    month = str(MONTHS_3[value.month])
    # English capitalises month abbreviations ("3 Dec"), Portuguese does not ("3 de dez.").
    if not (get_language() or "").startswith("pt"):
        month = month.capitalize()
    parts = {"day": value.day, "month": month, "year": value.year}
    if value.year == timezone.localdate().year:
        return pgettext("day and month", "%(day)s %(month)s") % parts
    return pgettext("day, month and year", "%(day)s %(month)s %(year)s") % parts


def _social_provider_name(provider_id: str) -> str:
    """The name of a social sign-in provider (``google`` -> "Google"), or its id."""
    from allauth.socialaccount import providers
    from allauth.socialaccount.models import SocialApp

    providers.registry.load()
    provider_class = providers.registry.get_class(provider_id) if provider_id else None
    if provider_class is not None:
        return str(provider_class.name)
    app = SocialApp.objects.filter(provider_id=provider_id).only("name").first()
    if app is None:
        app = SocialApp.objects.filter(provider=provider_id).only("name").first()
    return app.name if app is not None and app.name else provider_id.capitalize()


def value_provenance(value: ProfileValue) -> str:
    """Where ``value`` came from, in plain words of the active language: "from Google",
    "you added this on 3 Dec", "added by our staff on 3 Dec", "imported on 3 Dec",
    "from <client name>"."""
    day = _provenance_date(value.collected_at)
    source = value.source
    if source == ValueSource.SOCIAL:
        name = _social_provider_name(value.source_detail)
        return pgettext("provenance", "from %(provider)s") % {"provider": name}
    if source in (ValueSource.QUESTION, ValueSource.ACCOUNT, ValueSource.SIGNUP):
        return pgettext("provenance", "you added this on %(date)s") % {"date": day}
    if source == ValueSource.ADMIN:
        return pgettext("provenance", "added by our staff on %(date)s") % {"date": day}
    if source == ValueSource.IMPORT:
        return pgettext("provenance", "imported on %(date)s") % {"date": day}
    if source == ValueSource.API:
        client = value.client
        if client is not None and (client.name or client.client_id):
            return pgettext("provenance", "from %(client)s") % {
                "client": client.name or client.client_id
            }
        return pgettext("provenance", "from one of our applications on %(date)s") % {"date": day}
    return pgettext("provenance", "added on %(date)s") % {"date": day}


def account_values(*, user: Any, fields: list[ProfileField]) -> dict[str, ProfileValue]:
    """``user``'s values of ``fields`` by field key, with their client (one query)."""
    ids = [field.pk for field in fields]
    return {
        value.field.key: value
        for value in ProfileValue.objects.filter(user=user, field_id__in=ids).select_related(
            "client", "field"
        )
    }
