"""Receivers of the profiling app: the schema cache (profiling/schema.py) is dropped when a
field, an ask rule or a client's profile settings change, as the client cache is
(ciam/receivers.py)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from .models import AskRule, ClientProfileSettings, ProfileField
from .schema import schema_forget


def _forget(**kwargs: Any) -> None:
    # At once for this process, and again after the commit (a request served meanwhile may
    # have cached the old schema).
    schema_forget()
    transaction.on_commit(schema_forget)


def connect() -> None:
    for model in (ProfileField, AskRule, ClientProfileSettings):
        post_save.connect(_forget, sender=model, dispatch_uid=f"profiling-schema-save-{model}")
        post_delete.connect(_forget, sender=model, dispatch_uid=f"profiling-schema-del-{model}")
    for through in (
        AskRule.fields.through,
        AskRule.clients.through,
        ClientProfileSettings.required_fields.through,
    ):
        m2m_changed.connect(_forget, sender=through, dispatch_uid=f"profiling-schema-m2m-{through}")
