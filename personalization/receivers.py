"""Receivers of other apps' signals; each calls one service."""

from __future__ import annotations

from typing import Any

from consent.models import PurposeKind


def _purpose_decided(sender: Any, user: Any, record: Any, **kwargs: Any) -> None:
    """A personalization purpose withdrawn (or expired, or declined): the customer's derived
    data goes, in the ledger's transaction, even when another personalization purpose stays
    granted (what was derived mixed the interactions of both; the next training run
    derives again from what is still granted)."""
    if record.granted or record.purpose.kind != PurposeKind.PERSONALIZATION:
        return
    from .services.forget import personalization_forget

    personalization_forget(user=user)


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from consent.models import ClientPurpose, Purpose
    from consent.signals import purpose_consent_changed

    from .services.consent import purpose_cache_forget

    purpose_consent_changed.connect(_purpose_decided, dispatch_uid="personalization-forget")
    for signal in (post_save, post_delete):
        for model in (Purpose, ClientPurpose):
            signal.connect(
                purpose_cache_forget, sender=model, dispatch_uid=f"personalization-{model.__name__}"
            )
