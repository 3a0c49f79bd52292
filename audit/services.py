"""Writing the audit log: ``audit_record`` appends, ``audit_erase`` forgets an erased person."""

from __future__ import annotations

import json
import re
from typing import Any, cast

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import Q
from django.http import HttpRequest

from .context import current_request
from .models import ActorKind, AuditEntry, audit_erasure
from .signals import audit_recorded

REDACTED = "[redacted]"
MAX_USER_AGENT = 512
MAX_LABEL = 200
MAX_REQUEST_ID = 64

# Keys whose values never enter the log: passwords, secrets, tokens, one-time codes, keys.
# Matched on the key's words (``new_password1``, ``client_secret``, ``totpKey``,
# ``recovery_codes``); "code" only as the key's last word and not a known harmless one, so
# that ``postal_code`` or ``country_code`` stay readable.
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "otp",
        "totp",
        "pin",
        "hash",
        "credential",
        "credentials",
        "cookie",
        "signature",
        "nonce",
        "apikey",
        "privatekey",
        "verifier",
        "authorization",
        "pem",
        "sessionkey",
        "accesskey",
        "signingkey",
    }
)
# Secret words also found inside one-word keys (``newpassword``, ``accesstoken``,
# ``csrfmiddlewaretoken``); a key of several words is judged by its words (``tokens_only``
# is a flag, not a token).
_SECRET_SUBSTRINGS = ("password", "passwd", "secret", "token", "credential", "privatekey")
_HARMLESS_CODES = frozenset(
    {"postal", "zip", "country", "language", "currency", "area", "region", "status", "error"}
)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _is_secret_key(key: str) -> bool:
    words = [word.lower() for word in _WORD.findall(key)]
    if not words:
        return False
    joined = "".join(words)
    if any(word.rstrip("0123456789") in _SECRET_WORDS for word in words) or any(
        pair in _SECRET_WORDS for pair in ("".join(words[i : i + 2]) for i in range(len(words)))
    ):
        return True
    if len(words) == 1 and any(part in joined for part in _SECRET_SUBSTRINGS):
        return True
    if words[-1] in {"code", "codes"}:
        return len(words) == 1 or words[-2] not in _HARMLESS_CODES
    return joined in _SECRET_WORDS


class _LenientEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def changes_redact(changes: Any) -> Any:
    """``changes`` as plain JSON, every value under a secret-looking key replaced by
    ``[redacted]`` (at any depth)."""
    plain = json.loads(json.dumps(changes, cls=_LenientEncoder))
    return _redact(plain)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (REDACTED if _is_secret_key(str(key)) else _redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _user_or_none(value: Any) -> Any:
    """A saved user, or None (anonymous users and unsaved ones are nobody)."""
    if value is None or not getattr(value, "is_authenticated", False):
        return None
    return value if getattr(value, "pk", None) is not None else None


def user_label(user: Any) -> str:
    """How an entry names a person: their email address, else their username, and id."""
    name = getattr(user, "email", "") or user.get_username()
    return f"{name} (#{user.pk})"[:MAX_LABEL]


def erased_label(user_id: Any) -> str:
    """How an entry names a person whose account was erased (the id alone, as the admin's
    own log does)."""
    return f"Erased account #{user_id}"


def _subject_of(target: models.Model | None) -> Any:
    """The customer a target belongs to: the target itself when it is a user, else its
    ``user`` (an email address, a passkey, a consent)."""
    if target is None:
        return None
    user_model = get_user_model()
    if isinstance(target, user_model):
        return target
    owner = getattr(target, "user", None)
    return owner if isinstance(owner, user_model) else None


def _request_ip(request: HttpRequest) -> str | None:
    from sessions_ctx.context import request_ip

    return request_ip(request)


def audit_record(
    *,
    action: str,
    actor: Any | None,
    subject: Any | None = None,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_kind: str = "",
) -> AuditEntry:
    """Append one entry: who (actor, actor_kind customer/operator/system), what (action
    like "profile.updated", "client.secret_rotated", "customer.signed_out_everywhere",
    target object, changes), when, from where (IP, user agent from request or from the
    audit middleware's current request). Publishes audit.signals.audit_recorded on commit.

    ``changes`` never keeps a secret: values under keys like password, secret, token or code
    are replaced by ``[redacted]``. Without ``subject``, the customer concerned is the
    target when it is a user (or its owner), else a customer actor themself. Without
    ``actor_kind``: "system" with no actor, "customer" when the actor acts on their own
    account, "operator" when a staff member acts on someone else's.
    """
    target_fields = None
    if target is not None and target.pk is not None:
        target_fields = (ContentType.objects.get_for_model(target), str(target.pk), str(target))
    return _entry_append(
        action=action,
        actor=actor,
        actor_kind=actor_kind,
        subject=_user_or_none(subject) or _user_or_none(_subject_of(target)),
        target=target_fields,
        changes=changes,
        request=request,
    )


def _entry_append(
    *,
    action: str,
    actor: Any,
    actor_kind: str,
    subject: Any,
    target: tuple[ContentType | None, str, str] | None,
    changes: dict[str, Any] | None,
    request: HttpRequest | None,
) -> AuditEntry:
    actor = _user_or_none(actor)
    subject = _user_or_none(subject)
    if not actor_kind:
        if actor is None:
            actor_kind = ActorKind.SYSTEM
        elif subject is not None and subject.pk != actor.pk and actor.is_staff:
            actor_kind = ActorKind.OPERATOR
        else:
            actor_kind = ActorKind.CUSTOMER
    if subject is None and actor is not None and actor_kind == ActorKind.CUSTOMER:
        subject = actor
    if request is None:
        request = current_request()
    ip: str | None = None
    user_agent = request_id = ""
    if request is not None:
        ip = _request_ip(request)
        user_agent = str(request.META.get("HTTP_USER_AGENT", ""))[:MAX_USER_AGENT]
        request_id = str(
            getattr(request, "request_id", "") or request.META.get("HTTP_X_REQUEST_ID", "")
        )[:MAX_REQUEST_ID]
    target_type, target_id, target_repr = target or (None, "", "")
    entry = AuditEntry(
        action=action[:100],
        actor=actor,
        actor_label=user_label(actor) if actor is not None else "",
        actor_kind=actor_kind,
        subject=subject,
        subject_label=user_label(subject) if subject is not None else "",
        target_content_type=target_type,
        target_id=target_id[:64],
        target_repr=target_repr[:MAX_LABEL],
        changes=changes_redact(changes or {}),
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
    )
    entry.save()
    transaction.on_commit(lambda: audit_recorded.send(sender=AuditEntry, entry=entry), robust=True)
    return entry


ADMIN_ACTIONS = {ADDITION: "admin.addition", CHANGE: "admin.change", DELETION: "admin.deletion"}


def audit_admin_log_record(*, log_entry: LogEntry) -> AuditEntry:
    """Copy an entry of Django's admin log (every add, change and delete an operator makes in
    the admin) into the audit log: the operator, the object, its change message."""
    content_type = cast("ContentType | None", log_entry.content_type)
    subject = None
    if content_type is not None and log_entry.object_id:
        model = content_type.model_class()
        try:
            if model is not None and issubclass(model, get_user_model()):
                subject = model._default_manager.filter(pk=log_entry.object_id).first()
            else:
                subject = _subject_of(log_entry.get_edited_object())
        except (ObjectDoesNotExist, ValueError, TypeError, ValidationError):
            subject = None  # already gone, or an id of another shape
    return _entry_append(
        action=ADMIN_ACTIONS.get(log_entry.action_flag, "admin.other"),
        actor=log_entry.user,
        actor_kind=ActorKind.OPERATOR,
        subject=subject,
        target=(content_type, str(log_entry.object_id or ""), str(log_entry.object_repr)),
        changes={"message": log_entry.get_change_message()},
        request=None,
    )


@transaction.atomic
def audit_erase(*, user: Any) -> int:
    """Forget ``user`` in the log (their account is being erased or deleted); returns how
    many entries changed.

    The entries stay, so the log still shows that something happened, when and what kind
    of change. Entries about them lose the link, their name (``Erased account #id``), the
    target's name and the recorded values; entries they made lose the link, their name,
    address and browser. On PostgreSQL the table's trigger lets this UPDATE through only
    with ``ciam.audit_erasure`` set for the transaction (migration 0002).
    """
    label = erased_label(user.pk)
    user_type = ContentType.objects.get_for_model(user.__class__)
    about = Q(subject_id=user.pk) | Q(target_content_type=user_type, target_id=str(user.pk))
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('ciam.audit_erasure', 'on', true)")
    try:
        with audit_erasure():
            changed = AuditEntry.objects.filter(about).update(
                subject=None, subject_label=label, target_repr="", changes={}, erased=True
            )
            changed += AuditEntry.objects.filter(actor_id=user.pk).update(
                actor=None, actor_label=label, ip=None, user_agent="", erased=True
            )
    finally:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('ciam.audit_erasure', 'off', true)")
    return changed
