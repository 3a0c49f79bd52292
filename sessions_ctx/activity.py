"""Reads for the account's sessions and security activity pages.

Each function returns what a page shows, already in plain words where words are needed
(the active language); dates stay dates, formatted by the template (Django's ``date`` filter,
in the reader's language and time zone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from .models import Action, BrowserSession, EndReason, FindingCode, RiskDecision
from .risk.findings import finding_reason

ACTIVITY_LIMIT = 50
# Primary keys are 64-bit integers: longer digit strings cannot name a row (and would
# overflow the database's integer on the way).
MAX_ID_DIGITS = 18


def amr_words(amr: list[str]) -> list[str]:
    """RFC 8176 methods of a sign-in as a person would name them, in order, without repeats.

    "otp" is a one-time code: emailed when it is the only method (email sign-in), otherwise
    a second step after the password (an authenticator app, a recovery or an emailed code).
    """
    methods = [str(method) for method in amr]
    words: list[str] = []
    for method in methods:
        if method == "pwd":
            word = _("password")
        elif method in ("hwk", "swk"):
            word = _("passkey")
        elif method == "fed":
            word = _("social account")
        elif method == "otp":
            word = _("emailed code") if "pwd" not in methods else _("authenticator app or code")
        else:
            continue  # "mfa", "user", "pin" say how, not what: shown through the others
        if word not in words:
            words.append(word)
    return words


def method_words(method: str) -> str:
    """How a step-up was met (an RFC 8176 amr value), as the end of "confirmed with ..."."""
    if method in ("hwk", "swk"):
        return _("your passkey")
    if method == "otp":
        return _("a code")
    if method == "pwd":
        return _("your password")
    if method == "fed":
        return _("your social account")
    return _("a second step")


def device_type_words(device_type: str) -> str:
    return {
        "desktop": _("Computer"),
        "phone": _("Phone"),
        "tablet": _("Tablet"),
        "bot": _("Automated client"),
    }.get(device_type, _("Unknown device"))


@dataclass(frozen=True)
class SessionOnPage:
    """One active session as the sessions page lists it."""

    id: int
    browser_label: str
    device_type: str
    place: str
    network: str
    created_at: datetime
    last_seen_at: datetime
    how: list[str]
    is_current: bool


def sessions_active(*, user: Any, current_id: int | None) -> list[SessionOnPage]:
    """The user's active sessions, this browser's first, then the most recently used."""
    records = BrowserSession.objects.filter(user_id=user.pk, ended_at__isnull=True).order_by(
        "-last_seen_at", "-pk"
    )
    rows = [
        SessionOnPage(
            id=record.pk,
            browser_label=record.browser_label,
            device_type=device_type_words(record.device_type),
            place=record.place,
            network=record.network or (record.ip or ""),
            created_at=record.created_at,
            last_seen_at=record.last_seen_at,
            how=amr_words(list(record.amr or [])),
            is_current=record.pk == current_id,
        )
        for record in records
    ]
    return sorted(rows, key=lambda row: not row.is_current)


def session_id_parse(raw: str) -> int | None:
    """A session id from a URL or form; None for anything that is not a plausible id."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > MAX_ID_DIGITS:
        return None
    value = int(raw)
    return value or None


def session_active_of_user(*, user: Any, raw_id: str) -> BrowserSession | None:
    """The user's active session named by ``raw_id``; None for another user's, an ended
    or a malformed one."""
    session_id = session_id_parse(raw_id)
    if session_id is None:
        return None
    return BrowserSession.objects.filter(
        pk=session_id, user_id=user.pk, ended_at__isnull=True
    ).first()


@dataclass(frozen=True)
class ActivityEntry:
    """One risk decision in plain words. ``outcome`` is one of "allowed", "confirmed",
    "unconfirmed", "signed_out", "blocked"; the template words it with the dates."""

    created_at: datetime
    title: str
    reasons: list[str]
    outcome: str
    confirmed_with: str = ""
    resolved_at: datetime | None = None
    device_label: str = ""
    place: str = ""


def _finding_title(code: str) -> str:
    try:
        return str(FindingCode(code).label)
    except ValueError:
        return code


def _decision_title(decision: RiskDecision) -> str:
    codes = decision.finding_codes
    if codes:
        title = " · ".join(_finding_title(code) for code in codes)
    elif decision.trigger == RiskDecision.Trigger.CONTEXT_CHANGE:
        title = _("Session used from a changed context")
    else:
        title = _("Sign-in")
    if decision.place:
        return _("%(what)s in %(place)s") % {"what": title, "place": decision.place}
    return title


def _decision_outcome(decision: RiskDecision) -> str:
    if decision.action == Action.BLOCK:
        return "blocked"
    if decision.action == Action.END_SESSION:
        return "signed_out"
    if decision.action == Action.STEP_UP:
        return "confirmed" if decision.resolved_at is not None else "unconfirmed"
    return "allowed"


def security_activity(*, user: Any, limit: int = ACTIVITY_LIMIT) -> list[ActivityEntry]:
    """The user's most recent risk decisions, newest first, in plain words."""
    decisions = RiskDecision.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
    entries = []
    for decision in decisions[:limit]:
        reasons = []
        for item in decision.finding_list():
            params = item.get("params") or {}
            params = {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {}
            reasons.append(finding_reason(str(item.get("code", "")), params))
        entries.append(
            ActivityEntry(
                created_at=decision.created_at,
                title=_decision_title(decision),
                reasons=reasons,
                outcome=_decision_outcome(decision),
                confirmed_with=method_words(decision.resolved_with)
                if decision.resolved_at is not None
                else "",
                resolved_at=decision.resolved_at,
                device_label=decision.device_label,
                place=decision.place,
            )
        )
    return entries


@dataclass(frozen=True)
class SessionHistoryEntry:
    """A sign-in, or an ended session, as the security activity page lists it."""

    at: datetime
    browser_label: str
    device_type: str
    place: str
    how: list[str] = field(default_factory=list)
    end_reason: str = ""


def sign_ins_recent(*, user: Any, limit: int = ACTIVITY_LIMIT) -> list[SessionHistoryEntry]:
    """The user's most recent sign-ins (sessions by when they began), newest first."""
    records = BrowserSession.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
    return [
        SessionHistoryEntry(
            at=record.created_at,
            browser_label=record.browser_label,
            device_type=device_type_words(record.device_type),
            place=record.place,
            how=amr_words(list(record.amr or [])),
        )
        for record in records[:limit]
    ]


def sessions_ended_recent(*, user: Any, limit: int = ACTIVITY_LIMIT) -> list[SessionHistoryEntry]:
    """The user's most recently ended sessions, newest first, with why they ended."""
    records = BrowserSession.objects.filter(user_id=user.pk, ended_at__isnull=False).order_by(
        "-ended_at", "-pk"
    )
    entries = []
    for record in records[:limit]:
        try:
            reason = str(EndReason(record.end_reason).label)
        except ValueError:
            reason = _("Ended")
        entries.append(
            SessionHistoryEntry(
                at=record.ended_at or record.last_seen_at,
                browser_label=record.browser_label,
                device_type=device_type_words(record.device_type),
                place=record.place,
                end_reason=reason,
            )
        )
    return entries
