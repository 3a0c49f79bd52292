"""What the audit log hears: every change of a customer's account, and every operator
action in the admin. Each receiver names the change and hands it to
``services.audit_record`` (or ``audit_admin_log_record`` / ``audit_erase``); the request,
when the signal does not carry it, is the audit middleware's current request.

Connected by ``AuditConfig.ready`` through ``connect()``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from allauth.account import signals as account_signals
from allauth.socialaccount import signals as social_signals
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_delete
from django.dispatch import Signal
from django.http import HttpRequest

from .context import current_request
from .models import ActorKind
from .services import audit_admin_log_record, audit_erase, audit_record

logger = logging.getLogger(__name__)


def _request_user(request: HttpRequest | None) -> Any:
    request = request or current_request()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


def _user_by_id(user_id: Any) -> Any:
    if user_id in (None, ""):
        return None
    try:
        return get_user_model().objects.filter(pk=user_id).first()
    except (TypeError, ValueError):
        return None


def _self(action: str, *, request: HttpRequest | None, user: Any, **extra: Any) -> None:
    """A change the customer made to their own account (the request's user, else them)."""
    actor = _request_user(request) or user
    audit_record(action=action, actor=actor, subject=user, request=request, **extra)


# --- allauth: password and email addresses -------------------------------------------------


def on_password_changed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    _self("password.changed", request=request, user=user)


def on_password_set(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    _self("password.set", request=request, user=user)


def on_password_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # Reset from an emailed link: whoever followed it is signed out, the customer is the actor.
    audit_record(action="password.reset", actor=user, subject=user, request=request)


def on_email_added(
    sender: Any, request: HttpRequest, user: Any, email_address: Any, **kwargs: Any
) -> None:
    _self(
        "email.added",
        request=request,
        user=user,
        target=email_address,
        changes={"email": email_address.email},
    )


def on_email_removed(
    sender: Any, request: HttpRequest, user: Any, email_address: Any, **kwargs: Any
) -> None:
    _self("email.removed", request=request, user=user, changes={"email": email_address.email})


def on_email_changed(
    sender: Any,
    request: HttpRequest,
    user: Any,
    from_email_address: Any,
    to_email_address: Any,
    **kwargs: Any,
) -> None:
    _self(
        "email.primary_changed",
        request=request,
        user=user,
        target=to_email_address,
        changes={
            "from": getattr(from_email_address, "email", None),
            "to": getattr(to_email_address, "email", None),
        },
    )


def on_email_confirmed(
    sender: Any, request: HttpRequest, email_address: Any, **kwargs: Any
) -> None:
    user = email_address.user
    _self(
        "email.confirmed",
        request=request,
        user=user,
        target=email_address,
        changes={"email": email_address.email},
    )


def on_user_signed_up(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit_record(action="account.created", actor=user, subject=user, request=request)


# --- allauth: social accounts ----------------------------------------------------------------


def on_social_account_added(
    sender: Any, request: HttpRequest, sociallogin: Any, **kwargs: Any
) -> None:
    account = sociallogin.account
    _self(
        "social_account.added",
        request=request,
        user=account.user,
        target=account,
        changes={"provider": account.provider},
    )


def on_social_account_removed(
    sender: Any, request: HttpRequest, socialaccount: Any, **kwargs: Any
) -> None:
    _self(
        "social_account.removed",
        request=request,
        user=socialaccount.user,
        changes={"provider": socialaccount.provider},
    )


# --- profile, passkeys, second factor ---------------------------------------------------------


def on_profile_changed(
    sender: Any, user: Any, changed: dict[str, Any], source: str = "", **kwargs: Any
) -> None:
    source = str(source)
    actor = _request_user(None)
    kind: str
    if source == "admin":  # an operator, in the admin or the console
        kind = ActorKind.OPERATOR if actor is not None else ActorKind.SYSTEM
    elif source in {"api", "import"}:  # a client's back end, an import: no person acted
        actor, kind = None, ActorKind.SYSTEM
    else:
        actor, kind = actor or user, ""
    audit_record(
        action="profile.updated",
        actor=actor,
        subject=user,
        changes={"fields": changed, "source": source},
        actor_kind=kind,
    )


def _passkey(action: str) -> Any:
    def receiver(
        sender: Any, request: HttpRequest | None, user: Any, passkey: Any, **kwargs: Any
    ) -> None:
        _self(
            action,
            request=request,
            user=user,
            target=passkey if passkey.pk is not None else None,
            changes={"name": passkey.name},
        )

    receiver.__name__ = f"on_{action.replace('.', '_')}"
    return receiver


def on_second_factor_enabled(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    _self("second_factor.enabled", request=request, user=user, changes={"method": "totp"})


def on_second_factor_disabled(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    _self("second_factor.disabled", request=request, user=user, changes={"method": "totp"})


def on_recovery_codes_generated(
    sender: Any,
    request: HttpRequest | None,
    user: Any,
    count: int = 0,
    initial: bool = False,
    **kwargs: Any,
) -> None:
    # How many codes, never the codes.
    _self(
        "recovery_codes.generated",
        request=request,
        user=user,
        changes={"count": count, "initial": initial},
    )


# --- consent, sessions, privacy ----------------------------------------------------------------


def on_consent_granted(
    sender: Any, user: Any, application: Any, consent: Any, **kwargs: Any
) -> None:
    _self(
        "consent.client_granted",
        request=None,
        user=user,
        target=application,
        changes={"scopes": list(consent.scopes), "claims": list(consent.claims)},
    )


def on_consent_revoked(
    sender: Any, user: Any, application: Any, consent: Any, **kwargs: Any
) -> None:
    _self(
        "consent.client_revoked",
        request=None,
        user=user,
        target=application,
        changes={"client_id": application.client_id},
    )


def on_purpose_consent_changed(sender: Any, user: Any, record: Any, **kwargs: Any) -> None:
    _self(
        f"consent.purpose_{record.action}",
        request=None,
        user=user,
        target=record,
        changes={
            "purpose": record.purpose.key,
            "version": record.version.number,
            "channel": record.channel,
            "client_id": record.client_id,
        },
    )


def on_session_ended(
    sender: Any, request: HttpRequest | None, user_id: str, sid: str = "", **kwargs: Any
) -> None:
    user = _user_by_id(user_id)
    if user is None:
        return
    # Signed out here (request given), or ended from elsewhere: by the customer on their
    # sessions page, by an operator, or by the session policy (no request user: system).
    actor = user if request is not None else _request_user(None)
    audit_record(
        action="session.ended",
        actor=actor,
        subject=user,
        request=request,
        changes={"sid": sid, "from_elsewhere": request is None},
    )


def on_erasure_requested(sender: Any, user: Any, erasure: Any, **kwargs: Any) -> None:
    audit_record(
        action="account.erasure_requested",
        actor=user,
        subject=user,
        target=erasure,
        changes={"due_at": erasure.due_at},
    )


def on_erasure_cancelled(sender: Any, user: Any, erasure: Any, **kwargs: Any) -> None:
    audit_record(action="account.erasure_cancelled", actor=user, subject=user, target=erasure)


def on_account_erased(sender: Any, user_id: str, clients: list[str], **kwargs: Any) -> None:
    operator = _request_user(None)
    audit_record(
        action="account.erased",
        actor=operator,
        actor_kind=ActorKind.OPERATOR if operator is not None else ActorKind.SYSTEM,
        changes={"account": f"#{user_id}", "clients": list(clients)},
    )


# --- Django admin and user deletion ---------------------------------------------------------


def on_admin_log_entry(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if created:
        audit_admin_log_record(log_entry=instance)


def on_user_pre_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Before Django sets the entries' links to NULL: the entries forget the person too.
    if instance.pk is not None:
        audit_erase(user=instance)


# --- connecting -------------------------------------------------------------------------------


def _optional_signal(module: str, name: str) -> Signal | None:
    """A signal of an app that may not be installed here (then its changes go unrecorded)."""
    try:
        signal = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        logger.info("Audit log: %s.%s is absent, not recorded", module, name)
        return None
    return signal if isinstance(signal, Signal) else None


OPTIONAL: list[tuple[str, str, Any]] = [
    ("profiling.signals", "profile_changed", on_profile_changed),
    ("accounts.passkeys.signals", "passkey_registered", _passkey("passkey.added")),
    ("accounts.passkeys.signals", "passkey_removed", _passkey("passkey.removed")),
    ("accounts.passkeys.signals", "passkey_disabled", _passkey("passkey.disabled")),
    ("accounts.passkeys.signals", "passkey_reenabled", _passkey("passkey.reenabled")),
    ("accounts.mfa.signals", "second_factor_enabled", on_second_factor_enabled),
    ("accounts.mfa.signals", "second_factor_disabled", on_second_factor_disabled),
    ("accounts.mfa.signals", "recovery_codes_generated", on_recovery_codes_generated),
    ("consent.signals", "consent_granted", on_consent_granted),
    ("consent.signals", "consent_revoked", on_consent_revoked),
    ("consent.signals", "purpose_consent_changed", on_purpose_consent_changed),
    ("sessions_ctx.signals", "session_ended", on_session_ended),
    ("accounts.privacy.signals", "erasure_requested", on_erasure_requested),
    ("accounts.privacy.signals", "erasure_cancelled", on_erasure_cancelled),
    ("accounts.privacy.signals", "account_erased", on_account_erased),
]


def connect() -> None:
    """Connect every receiver (idempotent: each has a dispatch_uid)."""
    required: list[tuple[Signal, Any]] = [
        (account_signals.password_changed, on_password_changed),
        (account_signals.password_set, on_password_set),
        (account_signals.password_reset, on_password_reset),
        (account_signals.email_added, on_email_added),
        (account_signals.email_removed, on_email_removed),
        (account_signals.email_changed, on_email_changed),
        (account_signals.email_confirmed, on_email_confirmed),
        (account_signals.user_signed_up, on_user_signed_up),
        (social_signals.social_account_added, on_social_account_added),
        (social_signals.social_account_removed, on_social_account_removed),
    ]
    for signal, receiver in required:
        signal.connect(receiver, dispatch_uid=f"audit.{receiver.__name__}")
    for module, name, receiver in OPTIONAL:
        optional = _optional_signal(module, name)
        if optional is not None:
            optional.connect(receiver, dispatch_uid=f"audit.{module}.{name}")
    post_save.connect(on_admin_log_entry, sender=LogEntry, dispatch_uid="audit.admin_log_entry")
    pre_delete.connect(
        on_user_pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="audit.user_pre_delete"
    )
