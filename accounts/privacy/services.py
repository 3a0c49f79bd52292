"""Data subject rights: the copy of a customer's data, and the erasure of their account.

- Access and portability (LGPD Art. 18 II and V, GDPR Art. 15 and 20): ``user_data_export``
  gathers everything the provider holds about a user, in one JSON-ready document, without
  secrets (no password hash, authenticator key, passkey public key, token value or code).
- Erasure (LGPD Art. 18 VI, GDPR Art. 17): ``erasure_request`` records the request, signs
  the user out everywhere and emails the date; signing in again before it cancels it
  (``erasure_cancel``); ``erasure_due_run`` (the ``erase_due_accounts`` command) and the
  admin action erase through one service, ``account_erase``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from accounts.links import issuer_url
from ciam.models import AuthorizationContext
from ciam.subjects import subject_for
from consent.models import Consent
from consent.selectors import consent_history
from consent.services.ledger import ledger_erase
from profiling.models import Profile, ProfileQuestion, ProfileValue
from profiling.selectors import profile_document
from sessions_ctx.selectors import session_auth_state
from sessions_ctx.services.logout import session_logout

from ..passkeys.models import Passkey, PasskeyOfferDismissal
from ..passwordless.models import EmailSignIn
from .app_settings import app_settings
from .models import ErasureRequest
from .signals import account_erased, erasure_cancelled, erasure_requested

logger = logging.getLogger(__name__)

# The export's format: bump it when a key changes meaning or disappears (adding keys is
# backwards compatible).
EXPORT_SCHEMA = "ciam-account-export"
EXPORT_SCHEMA_VERSION = 1

# Session engines whose sessions are rows of django_session (they can be listed).
_DATABASE_SESSION_ENGINES = {
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
}


ERASED_BY_SCHEDULE = "schedule"


# --- export -----------------------------------------------------------------------------------


def _account(user: Any) -> dict[str, Any]:
    return {
        "id": str(user.pk),
        "subject": subject_for(user, None),
        "email": user.email,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "is_active": user.is_active,
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("-primary", "email")
        ],
    }


def _profile(user: Any) -> dict[str, Any] | None:
    """The profile's fields with their provenance (profiling/selectors.py)."""
    return profile_document(user=user)


def _sign_in_methods(user: Any, social_accounts: list[SocialAccount]) -> dict[str, Any]:
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    recovery_codes = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return {
        "password": user.has_usable_password(),
        "authenticator_app": {
            "enabled": totp is not None,
            "since": totp.created_at if totp else None,
            "last_used_at": totp.last_used_at if totp else None,
            "recovery_codes_left": recovery_codes if totp else 0,
        },
        "passkeys": [
            {
                "name": passkey.name,
                "created": passkey.created,
                "last_used_at": passkey.last_used_at,
                "backed_up": passkey.backed_up,
                "authenticator_model": passkey.aaguid,
            }
            for passkey in Passkey.objects.filter(user=user)
        ],
        "social_accounts": [
            {
                "provider": account.provider,
                "uid": account.uid,
                "connected_at": account.date_joined,
                "last_login": account.last_login,
            }
            for account in social_accounts
        ],
    }


def _sessions(user: Any, request: HttpRequest | None) -> dict[str, Any]:
    state = session_auth_state(request) if request is not None else None
    current = None
    if state is not None:
        current = {
            "session_id": state.sid,
            "authenticated_at": datetime.fromtimestamp(state.auth_time, tz=UTC),
            "methods": state.amr,
            "level": state.acr,
        }
    return {
        "current": current,
        # Listing the other sessions means reading every session of every user: not done for
        # a copy. What is kept is stated instead.
        "kept": (
            "Each browser signed in to your account has a session: who is signed in, when "
            "and how you signed in (methods and level), and where a sign-in in progress "
            "goes next. It ends when you sign out or after "
            f"{settings.SESSION_COOKIE_AGE // 86400} days."
        ),
        "authorizations": [
            {
                "client": context.application.name,
                "client_id": context.application.client_id,
                "at": context.created,
                "authenticated_at": datetime.fromtimestamp(context.auth_time, tz=UTC),
                "methods": context.amr,
                "level": context.acr,
                "offline_access": context.offline,
            }
            for context in AuthorizationContext.objects.filter(user=user)
            .select_related("application")
            .order_by("-created")
        ],
    }


def _connected_apps(user: Any) -> list[dict[str, Any]]:
    """Per client: what it holds now (tokens and unredeemed codes, never their values)."""
    now = timezone.now()
    apps: dict[int, dict[str, Any]] = {}

    def entry(application: Any) -> dict[str, Any]:
        if application.pk not in apps:
            apps[application.pk] = {
                "client": application.name,
                "client_id": application.client_id,
                "scopes": set(),
                "first_issued_at": None,
                "last_issued_at": None,
                "active_access_tokens": 0,
                "active_refresh_tokens": 0,
                "pending_authorization_codes": 0,
            }
        return apps[application.pk]

    def seen(item: dict[str, Any], created: Any) -> None:
        if item["first_issued_at"] is None or created < item["first_issued_at"]:
            item["first_issued_at"] = created
        if item["last_issued_at"] is None or created > item["last_issued_at"]:
            item["last_issued_at"] = created

    for token in get_access_token_model().objects.filter(user=user).select_related("application"):
        if token.application is None:
            continue
        item = entry(token.application)
        item["scopes"].update(token.scope.split())
        seen(item, token.created)
        if token.expires > now:
            item["active_access_tokens"] += 1
    for refresh in (
        get_refresh_token_model().objects.filter(user=user).select_related("application")
    ):
        item = entry(refresh.application)
        seen(item, refresh.created)
        if refresh.revoked is None:
            item["active_refresh_tokens"] += 1
    for grant in get_grant_model().objects.filter(user=user).select_related("application"):
        item = entry(grant.application)
        item["scopes"].update(grant.scope.split())
        seen(item, grant.created)
        if grant.expires > now:
            item["pending_authorization_codes"] += 1
    result = []
    for item in apps.values():
        item["scopes"] = sorted(item["scopes"])
        result.append(item)
    return sorted(result, key=lambda item: item["client"])


def _oauth_consents(user: Any) -> list[dict[str, Any]]:
    return [
        {
            "client": consent.application.name,
            "client_id": consent.application.client_id,
            "scopes": consent.scopes,
            "claims": consent.claims,
            "granted_at": consent.granted_at,
            "revoked_at": consent.revoked_at,
        }
        for consent in Consent.objects.filter(user=user)
        .select_related("application")
        .order_by("-granted_at")
    ]


def _receipt(record: Any) -> str | None:
    try:
        from consent.receipts import receipt_jws
    except ImportError:  # receipts not part of this installation
        return None
    return receipt_jws(record)


def _consent_ledger(user: Any) -> list[dict[str, Any]]:
    records = []
    for record in consent_history(user=user):
        application = record.application
        records.append(
            {
                "receipt_id": str(record.receipt_id),
                "purpose": record.purpose.key,
                # As it was shown, in the language of the decision.
                "purpose_title": record.version.title_for(record.language),
                "version": record.version.number,
                "action": record.action,
                "at": record.at,
                "channel": record.channel,
                "client": application.name if application else None,
                "client_id": application.client_id if application else None,
                "language": record.language,
                "ip_address": record.ip_address,
                "user_agent": record.user_agent,
                "text_sha256": record.text_sha256,
                "hash": record.hash,
                "receipt": _receipt(record),
            }
        )
    return records


def _erasure_requests(user: Any) -> list[dict[str, Any]]:
    return [
        {
            "requested_at": erasure.requested_at,
            "due_at": erasure.due_at,
            "cancelled_at": erasure.cancelled_at,
        }
        for erasure in ErasureRequest.objects.filter(user=user)
    ]


def _operator_actions(user: Any) -> list[dict[str, Any]]:
    """Changes operators made to the account in the admin (its audit log)."""
    content_type = ContentType.objects.get_for_model(user.__class__)
    return [
        {
            "at": entry.action_time,
            "action": {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, "other"),
            "change": entry.get_change_message(),
        }
        for entry in LogEntry.objects.filter(
            content_type=content_type, object_id=str(user.pk)
        ).order_by("-action_time")
    ]


def user_data_export(*, user: Any, request: HttpRequest | None = None) -> dict[str, Any]:
    """Everything the provider holds about ``user`` (a pure read): plain values, lists
    and dicts, dates and times as ``datetime`` (the page formats them in the reader's
    language; ``DjangoJSONEncoder`` writes them in ISO 8601 for the download).

    Categories: account, profile (each field with its source where known), sign-in methods
    (whether they exist and when, never a secret), sessions (the current one when
    ``request`` is given, and the sign-ins to clients), connected apps (per client: scopes
    and token counts, never a token), OAuth consents, the consent ledger with its signed
    receipts, deletion requests, and operators' changes to the account.
    """
    social_accounts = list(SocialAccount.objects.filter(user=user).order_by("provider", "uid"))
    return {
        "schema": EXPORT_SCHEMA,
        "schema_version": EXPORT_SCHEMA_VERSION,
        "generated_at": timezone.now(),
        "issuer": settings.CIAM_ISSUER,
        "account": _account(user),
        "profile": _profile(user),
        "sign_in_methods": _sign_in_methods(user, social_accounts),
        "sessions": _sessions(user, request),
        "connected_apps": _connected_apps(user),
        "oauth_consents": _oauth_consents(user),
        "consent_ledger": _consent_ledger(user),
        "erasure_requests": _erasure_requests(user),
        "security_events": _operator_actions(user),
    }


# --- signing out everywhere -------------------------------------------------------------------


def _django_sessions_of(user: Any) -> Iterator[str]:
    """Keys of the unexpired database sessions signed in as ``user``.

    Sessions are not indexed by user: this reads each unexpired session once, acceptable
    for a rare event (a deletion) but not for a page.
    """
    if settings.SESSION_ENGINE not in _DATABASE_SESSION_ENGINES:
        return
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    decoder = SessionStore()
    user_id = str(user.pk)
    sessions = Session.objects.filter(expire_date__gt=timezone.now()).only(
        "session_key", "session_data"
    )
    for session in sessions.iterator(chunk_size=2000):
        if str(decoder.decode(session.session_data).get("_auth_user_id")) == user_id:
            yield session.session_key


def _sessions_end(user: Any) -> int:
    """End every browser session of ``user`` (the cache copy too, for cached_db)."""
    from importlib import import_module

    engine = import_module(settings.SESSION_ENGINE)
    keys = list(_django_sessions_of(user))
    for key in keys:
        engine.SessionStore(session_key=key).delete()
    return len(keys)


def user_tokens_revoke(*, user: Any) -> None:
    """Every token and unredeemed code of ``user``, for every client: refresh tokens are
    revoked (RFC 7009 2.1, with their access tokens), the rest deleted. Used by erasure and
    by disabling an account (console.services.customers)."""
    for refresh_token in get_refresh_token_model().objects.filter(user=user, revoked__isnull=True):
        refresh_token.revoke()
    get_access_token_model().objects.filter(user=user).delete()
    get_id_token_model().objects.filter(user=user).delete()
    get_grant_model().objects.filter(user=user).delete()


# --- erasure ----------------------------------------------------------------------------------


def erasure_pending(*, user: Any) -> ErasureRequest | None:
    """The user's erasure request waiting for its date, if any."""
    return ErasureRequest.objects.filter(
        user=user, cancelled_at__isnull=True, completed_at__isnull=True
    ).first()


def erasure_request(*, request: HttpRequest, user: Any) -> ErasureRequest:
    """Record that ``user`` (signed in on ``request``, re-authenticated) asks for their
    account to be erased after ``CIAM_PRIVACY_ERASURE_GRACE_DAYS``.

    The user is signed out everywhere: every token of every client revoked, this browser
    signed out through sessions_ctx's logout (so ``session_ended`` is sent), then the
    user's other browser sessions ended. An
    email gives the date and says that signing in before it cancels the deletion. A second
    request while one is pending returns that one (and signs out again).
    """
    with transaction.atomic():
        # Lock the user row: two submits at once record one request.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        erasure = erasure_pending(user=user)
        created = erasure is None
        if erasure is None:
            now = timezone.now()
            erasure = ErasureRequest.objects.create(
                user=user,
                subject=subject_for(user, None),
                requested_by=ErasureRequest.Actor.CUSTOMER,
                requested_at=now,
                due_at=now + timedelta(days=app_settings.ERASURE_GRACE_DAYS),
            )
        user_tokens_revoke(user=user)
    if created:
        _erasure_email(request, user, erasure)
    session_logout(request=request)  # flushes this session
    _sessions_end(user)
    if created:
        erasure_requested.send(sender=ErasureRequest, user=user, erasure=erasure)
    return erasure


def _erasure_email(request: HttpRequest, user: Any, erasure: ErasureRequest) -> None:
    adapter = get_account_adapter(request)
    adapter.send_mail(
        "privacy/email/erasure_scheduled",
        user.email,
        {
            "user": user,
            "email": user.email,
            "due_at": erasure.due_at,
            "sign_in_url": issuer_url(reverse("account_login")),
        },
    )


def erasure_cancel(*, user: Any) -> ErasureRequest | None:
    """Cancel ``user``'s pending erasure (they signed in again during the grace period).
    Returns the cancelled request, or None when none was pending."""
    cancelled = ErasureRequest.objects.filter(
        user=user, cancelled_at__isnull=True, completed_at__isnull=True
    ).update(cancelled_at=timezone.now())
    if not cancelled:
        return None
    erasure = ErasureRequest.objects.filter(user=user).order_by("-cancelled_at").first()
    erasure_cancelled.send(sender=ErasureRequest, user=user, erasure=erasure)
    return erasure


def erasure_cancel_on_sign_in(*, request: HttpRequest | None, user: Any) -> None:
    """Signing in during the grace period cancels the deletion; the page says so."""
    if erasure_cancel(user=user) is not None and request is not None:
        messages.success(
            request,
            _("Welcome back. Your account will not be deleted: signing in cancelled it."),
            fail_silently=True,
        )


def _clients_of(user: Any) -> list[Any]:
    """The clients that hold or held something of ``user`` (tokens, codes, consents)."""
    application_ids: set[int] = set()
    for model in (
        get_access_token_model(),
        get_refresh_token_model(),
        get_id_token_model(),
        get_grant_model(),
        Consent,
        AuthorizationContext,
    ):
        application_ids.update(
            model.objects.filter(user=user, application__isnull=False).values_list(
                "application_id", flat=True
            )
        )
    return list(get_application_model().objects.filter(pk__in=application_ids).order_by("pk"))


def account_erase(*, user: Any, actor: str) -> ErasureRequest:
    """Erase ``user``'s account now; ``actor`` says who did ("schedule", "operator #3").

    Removed: the profile, email addresses, social accounts, passkeys, authenticator app and
    recovery codes, browser sessions, tokens and codes, sign-in contexts, OAuth consents,
    emailed sign-in rows of the user's addresses, and the user row itself. The consent
    ledger stays as anonymised tombstones (consent.services.ledger.ledger_erase: no user,
    IP address or user agent; the hash chains still verify). Admin log entries about the
    account lose its name. The erasure request is kept, marked done, with the subject
    only. Then ``signals.account_erased`` tells the relying parties' side (user_id,
    subject, clients, subjects), once the transaction committed.
    """
    user_id = str(user.pk)
    subject = subject_for(user, None)
    with transaction.atomic():
        applications = _clients_of(user)
        clients = [application.client_id for application in applications]
        # The sub each client knew (public, pairwise or legacy: ciam/subjects.py).
        subjects = {
            application.client_id: subject_for(user, application) for application in applications
        }
        now = timezone.now()
        erasure = erasure_pending(user=user)
        if erasure is None:
            erasure = ErasureRequest.objects.create(
                user=user,
                subject=subject,
                requested_by=ErasureRequest.Actor.OPERATOR,
                requested_at=now,
                due_at=now,
            )
        ErasureRequest.objects.filter(pk=erasure.pk).update(
            completed_at=now, erased_by=actor[:64], subject=subject
        )
        ErasureRequest.objects.filter(user=user).exclude(pk=erasure.pk).update(subject=subject)
        ledger_erase(user=user)
        user_tokens_revoke(user=user)
        get_refresh_token_model().objects.filter(user=user).delete()
        AuthorizationContext.objects.filter(user=user).delete()
        Consent.objects.filter(user=user).delete()
        addresses = {user.email.lower()} | {
            address.lower()
            for address in EmailAddress.objects.filter(user=user).values_list("email", flat=True)
        }
        email_filter = Q()
        for address in addresses:
            email_filter |= Q(email__iexact=address)
        EmailSignIn.objects.filter(email_filter).delete()
        EmailAddress.objects.filter(user=user).delete()
        SocialAccount.objects.filter(user=user).delete()  # their tokens cascade
        Passkey.objects.filter(user=user).delete()
        PasskeyOfferDismissal.objects.filter(user=user).delete()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()  # recovery codes cascade
        ProfileValue.objects.filter(user=user).delete()
        ProfileQuestion.objects.filter(user=user).delete()
        Profile.objects.filter(user=user).delete()
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(user.__class__), object_id=user_id
        ).update(object_repr=f"Erased account #{user_id}", change_message="")
        _sessions_end(user)
        user.delete()
        transaction.on_commit(
            lambda: account_erased.send(
                sender=ErasureRequest,
                user_id=user_id,
                subject=subject,
                clients=clients,
                subjects=subjects,
            )
        )
    erasure.refresh_from_db()
    return erasure


def erasure_due_run(*, now: Any = None) -> tuple[int, int]:
    """Erase every account whose erasure request is due (and neither cancelled nor done).
    Returns (erased, failed); a failure is logged and the others still run."""
    now = now or timezone.now()
    due = ErasureRequest.objects.filter(
        due_at__lte=now,
        cancelled_at__isnull=True,
        completed_at__isnull=True,
        user__isnull=False,
    ).select_related("user")
    erased = failed = 0
    for erasure in list(due):
        try:
            account_erase(user=erasure.user, actor=ERASED_BY_SCHEDULE)
        except Exception:
            logger.exception("Erasing account #%s failed", erasure.user_id)
            failed += 1
        else:
            erased += 1
    return erased, failed


def user_is_erasable(*, user: AbstractBaseUser, operator: AbstractBaseUser) -> bool:
    """Operators erase customers' accounts, never their own from the admin."""
    return user.pk != operator.pk
