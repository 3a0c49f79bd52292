"""Browser session records: starting, touching, ending and revoking them.

One record (models.BrowserSession) per signed-in browser session, created at sign-in
(``session_start``, from the user_logged_in receiver of accounts), kept current by the
middleware (``session_touch``: last seen at most every CIAM_SESSIONS_LAST_SEEN_INTERVAL_SECONDS,
a new look by the risk engine when the user agent or network changes, the session key
followed across rotations) and ended by ``session_end`` (this browser) or
``session_revoke`` (from elsewhere: another of the user's sessions, an operator, a password
change, a risk decision). Both send ``signals.session_ended`` once, so every way out ends
the session's tokens and tells its clients (back-channel logout) the same way.

Lifetime: "keep me signed in" makes a sliding session of CIAM_SESSIONS_IDLE_DAYS that ends
CIAM_SESSIONS_ABSOLUTE_DAYS after sign-in whatever the use; otherwise the cookie ends with
the browser and the session after CIAM_SESSIONS_BROWSER_SESSION_IDLE_MINUTES unused.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .. import throttle
from ..app_settings import app_settings
from ..constants import (
    CACHE_PREFIX_FAILED_SIGN_INS,
    SESSION_KEY_CONTEXT,
    SESSION_KEY_KEEP_SIGNED_IN,
)
from ..context import (
    RequestContext,
    context_fingerprint,
    network_of,
    request_context,
    request_ip,
)
from ..models import BrowserSession, EndReason, UserDevice
from ..selectors import session_auth_state
from ..signals import session_ended
from .authentication import session_record_authentication
from .risk import risk_evaluate_context_change, risk_evaluate_sign_in

logger = logging.getLogger(__name__)
FAILED_SIGN_IN_WINDOW = 3600
# Contexts (user agent and network fingerprints) a session remembers having been assessed in.
ASSESSED_CONTEXTS = 4


def _aware(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _session_store_class() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


# --- failed sign-ins (the failed_attempts assessor) -----------------------------------------


def _failed_counter(identifier: str) -> str:
    # Every spelling of the address that could name the account counts as the account.
    return throttle.counter(CACHE_PREFIX_FAILED_SIGN_INS, throttle.email_digest(identifier))


def failed_sign_in_record(*, identifier: str) -> None:
    """Count one wrong password for the account named ``identifier`` (its email)."""
    if identifier:
        throttle.hit(_failed_counter(identifier), window=FAILED_SIGN_IN_WINDOW)


def _failed_sign_ins_take(user: AbstractBaseUser) -> int:
    email = str(getattr(user, "email", "") or "")
    if not email:
        return 0
    key = _failed_counter(email)
    count = int(cache.get(key, 0))
    if count:
        throttle.clear(key)
    return count


# --- starting ------------------------------------------------------------------------------


def keep_signed_in_choose(*, request: HttpRequest, keep: bool) -> None:
    """Remember the sign-in page's "keep me signed in" choice for the sign-in under way."""
    request.session[SESSION_KEY_KEEP_SIGNED_IN] = bool(keep)


def _expiry_apply(request: HttpRequest, keep: bool) -> None:
    if keep:
        request.session.set_expiry(app_settings.IDLE_DAYS * 24 * 3600)
    else:
        request.session.set_expiry(0)


def _context_store(
    request: HttpRequest, record: BrowserSession, context: RequestContext, keep: bool
) -> None:
    now = time.time()
    fingerprint = context_fingerprint(request)
    request.session[SESSION_KEY_CONTEXT] = {
        "id": record.pk,
        "user_id": str(record.user_id),
        "fp": fingerprint,
        "fps": [fingerprint],
        "seen": int(now),
        "end": int(record.expires_at.timestamp()),
        "keep": keep,
        "key": request.session.session_key or "",
        "browser": context.browser.family,
        "os": context.browser.os,
    }


def session_context(request: HttpRequest) -> dict[str, Any] | None:
    """The session's context record (see ``_context_store``) when it belongs to the
    signed-in user."""
    data = request.session.get(SESSION_KEY_CONTEXT)
    user = getattr(request, "user", None)
    if not isinstance(data, dict) or user is None or not user.is_authenticated:
        return None
    return data if data.get("user_id") == str(user.pk) else None


def session_start(*, request: HttpRequest, user: AbstractBaseUser) -> BrowserSession:
    """A sign-in completed in this browser: record how (amr, acr, auth_time), create or
    refresh the session's record, let the risk engine look at it, and set the session's
    lifetime from the "keep me signed in" choice."""
    state = session_record_authentication(request=request, user_id=str(user.pk))
    if not request.session.session_key:
        request.session.save()  # a flushed session has no key until saved: the record needs it
    choice = request.session.pop(SESSION_KEY_KEEP_SIGNED_IN, None)
    keep = app_settings.KEEP_SIGNED_IN_DEFAULT if choice is None else bool(choice)
    context = request_context(request)
    now = timezone.now()
    previous = session_context(request)
    record = None
    if previous is not None:
        record = BrowserSession.objects.filter(
            pk=int(previous.get("id") or 0), user_id=user.pk, sid=state.sid, ended_at__isnull=True
        ).first()
    fields: dict[str, Any] = {
        "session_key": request.session.session_key or "",
        "last_seen_at": now,
        "auth_time": _aware(state.auth_time),
        "amr": state.amr,
        "acr": state.acr,
        "keep_signed_in": keep,
        "ip": context.ip,
        "network": context.network,
        "user_agent": context.user_agent,
        "browser": context.browser.family,
        "os": context.browser.os,
        "device_type": context.browser.device_type,
        "device_id": context.device_id,
    }
    place = context.place
    fields.update(
        country=place.country if place else "",
        city=place.city if place else "",
        asn=place.asn if place else None,
        latitude=place.latitude if place else None,
        longitude=place.longitude if place else None,
    )
    if record is None:
        record = BrowserSession.objects.create(
            user_id=user.pk,
            sid=state.sid,
            expires_at=now + timedelta(days=app_settings.ABSOLUTE_DAYS),
            **fields,
        )
    else:
        for name, value in fields.items():
            setattr(record, name, value)
        record.save(update_fields=list(fields))
    _expiry_apply(request, keep)
    _context_store(request, record, context, keep)
    risk_evaluate_sign_in(
        request=request,
        user=user,
        record=record,
        context=context,
        failed_attempts=_failed_sign_ins_take(user),
    )
    return record


def user_device_confirm(*, record: BrowserSession, label: str = "") -> None:
    """The session's browser is now a known device of its user (allowed, or confirmed by a
    step-up)."""
    if not record.device_id:
        return
    now = timezone.now()
    # One statement (INSERT ... ON CONFLICT DO UPDATE): a known device only has its
    # last_seen_at moved; its first_seen_at and label stay.
    UserDevice.objects.bulk_create(
        [
            UserDevice(
                user_id=record.user_id,
                device_id=record.device_id,
                first_seen_at=now,
                last_seen_at=now,
                label=label or record.browser_label,
            )
        ],
        update_conflicts=True,
        unique_fields=["user", "device_id"],
        update_fields=["last_seen_at"],
    )


# --- using ---------------------------------------------------------------------------------


def session_touch(*, request: HttpRequest) -> str | None:
    """Called by the middleware on each request of a signed-in browser. Ends a session past
    its idle or absolute end (returns ``EndReason.EXPIRED``), and when the risk engine
    decides so (returns the action); otherwise None. Writes only every
    CIAM_SESSIONS_LAST_SEEN_INTERVAL_SECONDS, when the context changed, or when the
    session key rotated."""
    data = session_context(request)
    if data is None:
        return None
    now = time.time()
    idle_limit = (
        app_settings.IDLE_DAYS * 86400
        if data.get("keep")
        else app_settings.BROWSER_SESSION_IDLE_MINUTES * 60
    )
    if now >= float(data.get("end", now + 1)) or now - float(data.get("seen", now)) > idle_limit:
        session_end(request=request, reason=EndReason.EXPIRED)
        return EndReason.EXPIRED
    fingerprint = context_fingerprint(request)
    assessed = [str(item) for item in data.get("fps") or [data.get("fp")] if item]
    # A context this session was not assessed in yet; one it was (an alternating dual-stack
    # network, say) is neither assessed nor written again.
    changed = fingerprint not in assessed
    if changed:
        data["fp"] = fingerprint
        data["fps"] = [*assessed, fingerprint][-ASSESSED_CONTEXTS:]
        action = risk_evaluate_context_change(
            request=request,
            record_id=int(data["id"]),
            context=request_context(request),
            session_browser=str(data.get("browser", "")),
            session_os=str(data.get("os", "")),
        )
        if action is not None:
            return action
    if changed or now - float(data.get("seen", 0)) >= app_settings.LAST_SEEN_INTERVAL_SECONDS:
        data["seen"] = int(now)
        fields: dict[str, Any] = {"last_seen_at": _aware(now)}
        if changed:  # the list of sessions shows where a session was used last
            ip = request_ip(request)
            fields.update(ip=ip, network=network_of(ip))
        updated = BrowserSession.objects.filter(pk=data["id"], ended_at__isnull=True).update(
            **fields
        )
        if not updated:  # ended from elsewhere while its key was changing: end it here too
            session_end(request=request, reason=EndReason.REVOKED_BY_USER)
            return EndReason.REVOKED_BY_USER
        request.session[SESSION_KEY_CONTEXT] = data  # saved (and the expiry slides)
    return None


def session_key_follow(*, request: HttpRequest) -> None:
    """After a response: the Django session key rotated (sign-in, a step-up, a password
    change), so the record follows it (it must still name the live session to end it)."""
    if not hasattr(request, "session"):
        return
    data = session_context(request)
    key = request.session.session_key
    if data is None or not key or data.get("key") == key:
        return
    data["key"] = key
    request.session[SESSION_KEY_CONTEXT] = data
    BrowserSession.objects.filter(pk=data["id"], ended_at__isnull=True).update(session_key=key)


# --- ending --------------------------------------------------------------------------------


def _record_end(record_id: Any, reason: str) -> None:
    BrowserSession.objects.filter(pk=record_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason, session_key=""
    )


def session_end(*, request: HttpRequest, reason: str = EndReason.SIGNED_OUT) -> None:
    """End this browser's session: its record is closed, the browser signed out, then
    ``signals.session_ended`` tells the apps holding what it issued (tokens revoked,
    clients told by back-channel logout). Nothing is sent for a session without an
    authentication state of its user."""
    state = session_auth_state(request)
    data = session_context(request)
    if data is not None:
        _record_end(data.get("id"), reason)
    logout(request)
    if state is not None:
        session_ended.send(
            sender=session_end, request=request, user_id=state.user_id, sid=state.sid
        )


def session_revoke(*, record: BrowserSession, reason: str) -> bool:
    """End one session from elsewhere: its Django session is deleted (the browser holding
    it is signed out on its next request), its record closed, and ``signals.session_ended``
    sent (with ``request=None``). False when it had already ended."""
    with transaction.atomic():
        locked = (
            BrowserSession.objects.select_for_update()
            .filter(pk=record.pk, ended_at__isnull=True)
            .first()
        )
        if locked is None:
            return False
        key = locked.session_key
        _record_end(locked.pk, reason)
    if key:
        try:
            _session_store_class()(session_key=key).delete()
        except Exception:  # a cache outage must not keep the record open
            logger.exception("Session %s could not be deleted from the session store", locked.pk)
    session_ended.send(
        sender=session_revoke, request=None, user_id=str(locked.user_id), sid=locked.sid
    )
    return True


def sessions_revoke_all(
    *, user: AbstractBaseUser, reason: str, keep_session_id: int | None = None
) -> int:
    """End every active session of ``user`` except ``keep_session_id``; how many ended."""
    records = BrowserSession.objects.filter(user_id=user.pk, ended_at__isnull=True)
    if keep_session_id is not None:
        records = records.exclude(pk=keep_session_id)
    return sum(1 for record in list(records) if session_revoke(record=record, reason=reason))


def sessions_keep_after_password_change(*, request: HttpRequest, user: AbstractBaseUser) -> int:
    """The user changed the password and chose to stay signed in elsewhere: the other active
    sessions carry the new password's session hash (Django would sign them out on their next
    request otherwise). How many were kept."""
    from django.contrib.auth import HASH_SESSION_KEY

    current = session_context(request)
    current_id = current.get("id") if current else None
    store_class = _session_store_class()
    kept = 0
    records = BrowserSession.objects.filter(user_id=user.pk, ended_at__isnull=True)
    if current_id is not None:
        records = records.exclude(pk=int(current_id))
    for record in records:
        if not record.session_key:
            continue
        store = store_class(session_key=record.session_key)
        if not store.load():  # gone or expired
            continue
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        try:
            store.save(must_create=False)
        except UpdateError:  # signed out meanwhile
            continue
        kept += 1
    return kept


def current_session_id(request: HttpRequest) -> int | None:
    data = session_context(request)
    return int(data["id"]) if data is not None else None
