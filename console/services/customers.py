"""What operators do to a customer's account from the console, each through the service
that owns the concern (allauth for email addresses and password resets, sessions_ctx for
sessions, accounts.privacy for erasure), and each recorded in the audit log as
``customer.<verb>`` with the operator as the actor."""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpRequest

from accounts.privacy.services import account_erase, user_is_erasable, user_tokens_revoke
from sessions_ctx.models import EndReason
from sessions_ctx.services.sessions import current_session_id, sessions_revoke_all

from ..selectors_customers import customer_primary_address

logger = logging.getLogger(__name__)


class CustomerActionRefused(Exception):
    """The action cannot be done to this customer; the message says why (shown as is)."""


def _refuse_operator_account(*, user: Any, operator: Any) -> None:
    """Only superusers act on an operator's account (staff or superuser): another operator
    would otherwise take it over by a password reset or lock its owner out."""
    if operator is None:
        return
    if (user.is_staff or user.is_superuser) and not getattr(operator, "is_superuser", False):
        raise CustomerActionRefused("operator_account")


def _audit(
    *,
    verb: str,
    operator: Any,
    user: Any,
    request: HttpRequest | None,
    changes: dict[str, Any] | None = None,
) -> None:
    try:
        from audit.services import audit_record
    except ImportError:  # an installation without the audit log
        return
    audit_record(
        action=f"customer.{verb}",
        actor=operator,
        actor_kind="operator",
        subject=user,
        changes=changes,
        request=request,
    )


@transaction.atomic
def customer_email_verify(*, user: Any, operator: Any, request: HttpRequest | None = None) -> bool:
    """Mark the customer's primary email address verified (as an operator vouches for it).
    False when it already was; ``CustomerActionRefused`` when the customer has no address
    or another account verified the same one."""
    _refuse_operator_account(user=user, operator=operator)
    address = customer_primary_address(user=user)
    if address is None:
        raise CustomerActionRefused("no_address")
    if address.verified:
        return False
    if not address.set_verified(commit=True):
        raise CustomerActionRefused("address_taken")
    _audit(
        verb="email_verified",
        operator=operator,
        user=user,
        request=request,
        changes={"email": address.email},
    )
    return True


def customer_password_reset_send(*, user: Any, operator: Any, request: HttpRequest) -> str:
    """Email allauth's password reset link to the customer's primary address; the address."""
    _refuse_operator_account(user=user, operator=operator)
    from allauth.account.internal.flows.password_reset import request_password_reset

    address = customer_primary_address(user=user)
    email = address.email if address is not None else user.email
    if not email:
        raise CustomerActionRefused("no_address")
    request_password_reset(request, email, [user], None)
    _audit(
        verb="password_reset_sent",
        operator=operator,
        user=user,
        request=request,
        changes={"email": email},
    )
    return email


@transaction.atomic
def customer_password_compromised(*, user: Any, operator: Any, request: HttpRequest) -> str:
    """The customer's password is known to others: every session ends (tokens revoked,
    clients told), the password becomes unusable, and a reset link is emailed to the
    primary address; recorded as ``customer.password_compromised`` (the outbox writes
    ``credential.compromised``, RISC credential-compromise). Returns the address."""
    _refuse_operator_account(user=user, operator=operator)
    from allauth.account.internal.flows.password_reset import request_password_reset

    address = customer_primary_address(user=user)
    email = address.email if address is not None else user.email
    if not email:
        raise CustomerActionRefused("no_address")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    ended = sessions_revoke_all(user=user, reason=EndReason.REVOKED_BY_OPERATOR)
    _audit(
        verb="password_compromised",
        operator=operator,
        user=user,
        request=request,
        changes={"sessions_ended": ended, "reset_sent_to": email},
    )
    request_password_reset(request, email, [user], None)
    return email


def customer_verification_resend(*, user: Any, operator: Any, request: HttpRequest) -> bool:
    """Send allauth's email verification to the customer's primary address (unless it is
    verified already). False when nothing was sent (verified, or allauth's rate limit)."""
    _refuse_operator_account(user=user, operator=operator)
    from allauth.account.internal.flows.email_verification import (
        send_verification_email_to_address,
    )
    from allauth.core.exceptions import ImmediateHttpResponse
    from django.conf import settings
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.module_loading import import_string

    address = customer_primary_address(user=user)
    if address is None:
        raise CustomerActionRefused("no_address")
    if address.verified:
        return False
    # allauth keeps a verification in progress in the session that started it: a separate,
    # unsaved one, so that the operator's own session never holds the customer's.
    detached = copy.copy(request)
    store: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    detached.session = store()
    try:
        sent = bool(send_verification_email_to_address(detached, address))
    except ImmediateHttpResponse:  # allauth's rate limit of verification emails
        sent = False
    if sent:
        _audit(
            verb="verification_resent",
            operator=operator,
            user=user,
            request=request,
            changes={"email": address.email},
        )
    return sent


def customer_sign_out_everywhere(
    *, user: Any, operator: Any, request: HttpRequest | None = None
) -> int:
    """End every session of the customer (sessions_ctx: each browser signed out, the tokens
    of those sessions revoked, the clients told by back-channel logout); the operator's own
    session is kept when they sign themselves out. How many ended."""
    _refuse_operator_account(user=user, operator=operator)
    keep = None
    if request is not None and user.pk == getattr(request.user, "pk", None):
        keep = current_session_id(request)
    ended = sessions_revoke_all(
        user=user, reason=EndReason.REVOKED_BY_OPERATOR, keep_session_id=keep
    )
    _audit(
        verb="signed_out_everywhere",
        operator=operator,
        user=user,
        request=request,
        changes={"sessions_ended": ended},
    )
    return ended


def customer_disable(*, user: Any, operator: Any, request: HttpRequest | None = None) -> int:
    """The customer can no longer sign in (``is_active`` off) and is signed out everywhere:
    every session ended, and every token and unredeemed code of every client revoked
    (``user_tokens_revoke``, as erasure does; offline_access refresh tokens too). How many
    sessions ended. Operators never disable their own account here."""
    _refuse_operator_account(user=user, operator=operator)
    if user.pk == getattr(operator, "pk", None):
        raise CustomerActionRefused("own_account")
    with transaction.atomic():
        changed = type(user).objects.filter(pk=user.pk, is_active=True).update(is_active=False)
        user.is_active = False
        user_tokens_revoke(user=user)
    ended = sessions_revoke_all(user=user, reason=EndReason.REVOKED_BY_OPERATOR)
    if changed or ended:
        _audit(
            verb="disabled",
            operator=operator,
            user=user,
            request=request,
            changes={"is_active": False, "sessions_ended": ended},
        )
    return ended


def customer_enable(*, user: Any, operator: Any, request: HttpRequest | None = None) -> bool:
    """The customer can sign in again; False when they already could."""
    _refuse_operator_account(user=user, operator=operator)
    changed = type(user).objects.filter(pk=user.pk, is_active=False).update(is_active=True)
    user.is_active = True
    if changed:
        _audit(
            verb="enabled",
            operator=operator,
            user=user,
            request=request,
            changes={"is_active": True},
        )
    return bool(changed)


def customer_erase(*, user: Any, operator: Any, request: HttpRequest | None = None) -> str:
    """Erase the customer's account now through accounts.privacy (``account_erase``, the
    service of the customer's own deletion), the operator recorded as the actor on the
    erasure request, in the admin log and in the audit log. Returns the erased user's id."""
    _refuse_operator_account(user=user, operator=operator)
    if not user_is_erasable(user=user, operator=operator):
        raise CustomerActionRefused("own_account")
    user_id = str(user.pk)
    with transaction.atomic():
        # Recorded first: the entry names the customer until the erasure anonymises it.
        _audit(verb="erased", operator=operator, user=user, request=request)
        account_erase(user=user, actor=f"operator #{operator.pk}")
        LogEntry.objects.create(
            user_id=operator.pk,
            content_type=ContentType.objects.get_for_model(type(user)),
            object_id=user_id,
            object_repr=f"Erased account #{user_id}",
            action_flag=DELETION,
            change_message="Erased through accounts.privacy (account_erase).",
        )
    return user_id
