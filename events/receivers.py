"""Where domain events come from: the audit log's entries and the session context's signals,
each mapped to a catalogue event and written with ``event_emit``.

The audit log hears nearly every change of a customer's account (audit/receivers.py), and
its entry is saved synchronously in the transaction of the change (or of the signal that
reported it): its ``post_save`` is the one reliable source of "what changed", so a change
and its event commit together. Sign-ins, risk challenges and assurance changes come from
sessions_ctx.signals; the deletion of a user from its ``pre_delete`` (in the erasure's
transaction, before the row goes).

Data holds identifiers and facts; personal values are tagged values (``events.tags``) so
that each receiver gets only what its scopes and the customer's current consent allow.

Connected by ``EventsConfig.ready`` through ``connect()`` (each with a dispatch_uid).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save, pre_delete
from django.http import HttpRequest
from django.utils import timezone

from .models import OutboxEvent
from .services.outbox import event_emit, events_forget_user
from .tags import CLAIM_SCOPES, requires, tagged

logger = logging.getLogger(__name__)

# Attribute of the request holding the sign-in event written during it, once written:
# (event pk, user pk as str, sid, decision or None). Within SignInEventMiddleware that is at
# the end of the request, with the final amr (the event is never amended).
REQUEST_SIGN_IN_EVENT = "_events_sign_in_event"
# The sign-in completed in this request, its event not yet written (a PendingSignIn).
REQUEST_SIGN_IN_PENDING = "_events_sign_in_pending"
# Set by SignInEventMiddleware: sign-ins of this request are written at its end.
REQUEST_DEFERS_SIGN_IN = "_events_defer_sign_in"

# How a first factor's amr names its method (RFC 8176 values).
METHOD_BY_AMR = {
    "pwd": "password",
    "hwk": "passkey",
    "swk": "passkey",
    "fed": "social",
    "otp": "email_code",
    "sms": "sms",
}


# --- the audit log ------------------------------------------------------------------------------


def _profile_tags() -> dict[str, tuple[str, str]]:
    """Field key -> (scope, purpose key) of the profile schema."""
    try:
        from profiling.models import ProfileField
    except ImportError:
        return {}
    return {
        key: (CLAIM_SCOPES.get(claim or key, scope or "profile"), purpose or "")
        for key, claim, scope, purpose in ProfileField.objects.values_list(
            "key", "claim", "scope", "purpose__key"
        )
    }


def _field_scope(key: str, tags: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(scope, purpose) of profile field ``key``: its schema's, else the standard claim's
    scope (OIDC Core 5.4), else "profile"."""
    return tags.get(key, (CLAIM_SCOPES.get(key, "profile"), ""))


def on_profile_written(
    sender: Any, user: Any, changed: dict[str, Any], source: str = "", **kwargs: Any
) -> None:
    """profiling.signals.profile_written, inside profile_update's transaction: user.updated
    (+ profile.field_collected for answers to questions), committed with the change."""
    fields = changed if isinstance(changed, dict) else {}
    source = str(source)
    tags = _profile_tags()
    values = {}
    for key, value in fields.items():
        scope, purpose = _field_scope(key, tags)
        values[key] = tagged(value, scope=scope, purpose=purpose or None)
    event_emit(
        type="user.updated",
        user=user,
        data={"fields": values, "changed": sorted(fields), "source": source},
    )
    # profiling.models.ValueSource.QUESTION: answered in a question of the sign-in pipeline.
    if source == "question":
        for key, value in fields.items():
            if value is None:
                continue
            scope, purpose = _field_scope(key, tags)
            event_emit(
                type="profile.field_collected",
                user=user,
                data={
                    "field": key,
                    "source": source,
                    "value": tagged(value, scope=scope, purpose=purpose or None),
                    "_requires": requires(purpose=purpose or None),
                },
            )


def _email_changed(entry: Any) -> None:
    email = (entry.changes or {}).get("to")
    event_emit(
        type="user.updated",
        user=entry.subject,
        data={
            "fields": {"email": tagged(email, scope="email")},
            "changed": ["email"],
            "source": "account",
        },
    )


def _session_ended(entry: Any) -> None:
    changes = entry.changes or {}
    kind = "session.revoked" if changes.get("from_elsewhere") else "user.signed_out"
    event_emit(type=kind, user=entry.subject, data={"sid": str(changes.get("sid", ""))})


def _purpose_consent(entry: Any) -> None:
    changes = entry.changes or {}
    action = entry.action.removeprefix("consent.purpose_")
    if action == "declined":
        return  # never granted: nothing changed
    kind = "consent.granted" if action in ("granted", "reconfirmed") else "consent.withdrawn"
    event_emit(
        type=kind,
        user=entry.subject,
        data={
            "purpose": changes.get("purpose", ""),
            "version": changes.get("version"),
            "channel": changes.get("channel", ""),
            "client_id": changes.get("client_id") or "",
            "action": action,
        },
    )


def _client_id_of(entry: Any) -> str:
    changes = entry.changes or {}
    if changes.get("client_id"):
        return str(changes["client_id"])
    content_type = entry.target_content_type
    model = content_type.model_class() if content_type is not None else None
    if model is None or not entry.target_id:
        return ""
    return str(
        model._default_manager.filter(pk=entry.target_id)
        .values_list("client_id", flat=True)
        .first()
        or ""
    )


def _client(kind: str) -> Callable[[Any], None]:
    def emit(entry: Any) -> None:
        data: dict[str, Any] = {"client_id": _client_id_of(entry)}
        scopes = (entry.changes or {}).get("scopes")
        if scopes is not None:
            data["scopes"] = list(scopes)
        event_emit(type=kind, user=entry.subject, data=data)

    return emit


def _credential(kind: str, credential: str, **extra: Any) -> Callable[[Any], None]:
    def emit(entry: Any) -> None:
        data = {"kind": credential, "action": entry.action, **extra}
        if credential == "recovery_codes":
            data["count"] = (entry.changes or {}).get("count")
        event_emit(type=kind, user=entry.subject, data=data)

    return emit


def _plain(kind: str) -> Callable[[Any], None]:
    def emit(entry: Any) -> None:
        event_emit(type=kind, user=entry.subject, data={"actor": entry.actor_kind})

    return emit


def _verified(entry: Any) -> None:
    email = (entry.changes or {}).get("email")
    event_emit(
        type="user.verified",
        user=entry.subject,
        data={"email": tagged(email, scope="email"), "method": "email"},
    )


def _admin_addition(entry: Any) -> None:
    content_type = entry.target_content_type
    if content_type is None or content_type.model_class() is not get_user_model():
        return
    user = entry.subject or get_user_model().objects.filter(pk=entry.target_id).first()
    if user is not None:
        event_emit(type="user.created", user=user, data={"actor": "operator", "source": "admin"})


def _created(entry: Any) -> None:
    event_emit(type="user.created", user=entry.subject, data={"actor": entry.actor_kind})


AUDIT_ACTIONS: dict[str, Callable[[Any], None]] = {
    "account.created": _created,
    "admin.addition": _admin_addition,
    "email.confirmed": _verified,
    "customer.email_verified": _verified,
    "email.primary_changed": _email_changed,
    "customer.disabled": _plain("user.disabled"),
    "customer.enabled": _plain("user.enabled"),
    "session.ended": _session_ended,
    "consent.purpose_granted": _purpose_consent,
    "consent.purpose_reconfirmed": _purpose_consent,
    "consent.purpose_withdrawn": _purpose_consent,
    "consent.purpose_expired": _purpose_consent,
    "consent.purpose_declined": _purpose_consent,
    "consent.client_granted": _client("client.authorized"),
    "consent.client_revoked": _client("client.revoked"),
    "passkey.added": _credential("credential.added", "passkey"),
    "passkey.removed": _credential("credential.removed", "passkey"),
    "passkey.disabled": _credential("credential.removed", "passkey"),
    "passkey.reenabled": _credential("credential.changed", "passkey"),
    "second_factor.enabled": _credential("credential.added", "totp"),
    "second_factor.disabled": _credential("credential.removed", "totp"),
    "recovery_codes.generated": _credential("credential.changed", "recovery_codes"),
    "password.changed": _credential("credential.changed", "password"),
    "password.set": _credential("credential.changed", "password"),
    "password.reset": _credential("credential.changed", "password"),
    "social_account.added": _credential("credential.added", "social"),
    "social_account.removed": _credential("credential.removed", "social"),
    "customer.password_compromised": _credential("credential.compromised", "password"),
}


def on_audit_entry(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """An audit entry was appended: write the event it means, in the same transaction."""
    if not created:
        return
    handler = AUDIT_ACTIONS.get(instance.action)
    if handler is None:
        return
    if instance.subject_id is None and instance.action != "admin.addition":
        return  # nobody's change (an erased person, a system action without a customer)
    handler(instance)


# --- sessions_ctx ------------------------------------------------------------------------------


def _method_of(amr: list[str]) -> str:
    for value in amr:
        if value in METHOD_BY_AMR:
            return METHOD_BY_AMR[value]
    return amr[0] if amr else ""


def _risk_summary(decision: Any) -> dict[str, Any]:
    from sessions_ctx.models import CONFIDENCE_RANK

    rank = {str(key): value for key, value in CONFIDENCE_RANK.items()}
    findings = list(getattr(decision, "findings", None) or [])
    level = "none"
    for finding in findings:
        confidence = str(finding.get("confidence", ""))
        if rank.get(confidence, -1) > rank.get(level, -1):
            level = confidence
    return {"level": level, "action": str(getattr(decision, "action", "allow"))}


def _sign_in_data(*, amr: list[str], acr: str, sid: str, decision: Any) -> dict[str, Any]:
    return {
        "method": _method_of(amr),
        "amr": list(amr),
        "acr": acr,
        "sid": sid,
        "risk": _risk_summary(decision),
    }


@dataclass
class PendingSignIn:
    """A sign-in completed in this request whose event is written at the end of it
    (``sign_in_event_flush``), with the amr the sign-in method states last."""

    user: Any
    sid: str
    amr: list[str]
    acr: str
    decision: Any
    time: datetime


def on_sign_in_completed(
    sender: Any,
    request: HttpRequest,
    user: Any,
    sid: str,
    amr: list[str],
    acr: str,
    decision: Any,
    **kwargs: Any,
) -> None:
    """A sign-in completed. Within a request that SignInEventMiddleware wraps, the event
    waits for the end of the request (a passkey or an emailed code states its own amr right
    after login()): one event, with the final method. Elsewhere it is written at once."""
    if request is not None and getattr(request, REQUEST_DEFERS_SIGN_IN, False):
        setattr(
            request,
            REQUEST_SIGN_IN_PENDING,
            PendingSignIn(
                user=user,
                sid=sid,
                amr=list(amr),
                acr=acr,
                decision=decision,
                time=timezone.now(),
            ),
        )
        return
    event = event_emit(
        type="user.signed_in",
        user=user,
        data=_sign_in_data(amr=amr, acr=acr, sid=sid, decision=decision),
    )
    if request is not None:
        setattr(request, REQUEST_SIGN_IN_EVENT, (event.pk, str(user.pk), sid, decision))


def on_authentication_recorded(
    sender: Any,
    request: HttpRequest,
    user_id: str,
    sid: str,
    amr: list[str],
    acr: str,
    **kwargs: Any,
) -> None:
    """A sign-in method stated its own amr right after login() (passkeys, emailed codes):
    the sign-in still pending in this request takes it (its event is not written yet)."""
    pending = getattr(request, REQUEST_SIGN_IN_PENDING, None)
    if pending is None:
        return
    if str(pending.user.pk) != str(user_id) or pending.sid != sid:
        return
    pending.amr = list(amr)
    pending.acr = acr


def sign_in_event_flush(request: HttpRequest) -> OutboxEvent | None:
    """Write the sign-in pending in ``request`` (end of the request), once, in its own
    transaction; afterwards REQUEST_SIGN_IN_EVENT holds (event pk, user pk, sid, decision)."""
    pending = getattr(request, REQUEST_SIGN_IN_PENDING, None)
    if pending is None:
        return None
    delattr(request, REQUEST_SIGN_IN_PENDING)
    with transaction.atomic():
        event = event_emit(
            type="user.signed_in",
            user=pending.user,
            time=pending.time,
            data=_sign_in_data(
                amr=pending.amr, acr=pending.acr, sid=pending.sid, decision=pending.decision
            ),
        )
    setattr(
        request,
        REQUEST_SIGN_IN_EVENT,
        (event.pk, str(pending.user.pk), pending.sid, pending.decision),
    )
    return event


def on_risk_challenged(
    sender: Any, request: HttpRequest | None, user_id: str, decision: Any, **kwargs: Any
) -> None:
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    findings = [
        {"code": str(item.get("code", "")), "confidence": str(item.get("confidence", ""))}
        for item in decision.findings or []
    ]
    event_emit(
        type="risk.challenged",
        user=user,
        data={
            "action": str(decision.action),
            "trigger": str(decision.trigger),
            "findings": findings,
            "decision_id": decision.pk,
        },
    )


def on_assurance_changed(
    sender: Any,
    request: HttpRequest | None,
    user_id: str,
    sid: str,
    acr_before: str,
    acr_after: str,
    amr: list[str],
    **kwargs: Any,
) -> None:
    user = getattr(request, "user", None)
    if user is None or str(getattr(user, "pk", "")) != str(user_id):
        user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    event_emit(
        type="assurance.changed",
        user=user,
        data={"acr_before": acr_before, "acr_after": acr_after, "amr": list(amr), "sid": sid},
    )


# --- deletion -----------------------------------------------------------------------------------


def on_user_pre_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    """The user's row goes (an erasure, an operator's delete): the earlier events forget
    their personal values, and ``user.deleted`` is written in the same transaction (its
    subject, the public one, outlives the row)."""
    if instance.pk is None:
        return
    events_forget_user(user=instance)
    event_emit(type="user.deleted", user=instance, data={})


# --- connecting ---------------------------------------------------------------------------------


def connect() -> None:
    """Connect every receiver (idempotent: each has a dispatch_uid)."""
    from sessions_ctx import signals as sessions_signals

    try:
        from profiling.signals import profile_written
    except ImportError:
        logger.info("Events: profiling is absent, profile changes are not written")
    else:
        profile_written.connect(on_profile_written, dispatch_uid="events.profile_written")

    try:
        from audit.models import AuditEntry
    except ImportError:  # an installation without the audit log: only the sessions' events
        logger.info("Events: audit is absent, account changes are not written")
    else:
        post_save.connect(on_audit_entry, sender=AuditEntry, dispatch_uid="events.audit_entry")
    sessions_signals.sign_in_completed.connect(
        on_sign_in_completed, dispatch_uid="events.sign_in_completed"
    )
    sessions_signals.authentication_recorded.connect(
        on_authentication_recorded, dispatch_uid="events.authentication_recorded"
    )
    sessions_signals.risk_challenged.connect(
        on_risk_challenged, dispatch_uid="events.risk_challenged"
    )
    sessions_signals.assurance_changed.connect(
        on_assurance_changed, dispatch_uid="events.assurance_changed"
    )
    pre_delete.connect(
        on_user_pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="events.user_pre_delete"
    )
