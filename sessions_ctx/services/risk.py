"""Evaluating risk: at sign-in and when a session's context changes; storing each decision;
applying a client's own policy; resolving a step-up; ending or blocking.

The session carries the latest decision (``SESSION_KEY_RISK``: its id, findings, action,
whether a step-up resolved it, and the amr the session had then), so that the interaction
pipeline and the middleware ask it without a query. Decisions are rows of
models.RiskDecision with their findings; the account's security activity shows them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string

from ..app_settings import app_settings
from ..constants import SESSION_KEY_CONTEXT, SESSION_KEY_RISK
from ..context import RequestContext, browser_of, user_agent_of
from ..models import ACTION_RANK, Action, BrowserSession, EndReason, RiskDecision
from ..risk.findings import Finding
from ..risk.history import History, user_history
from ..risk.policy import action_for, policy_rules
from ..selectors import session_auth_state
from ..signals import risk_challenged, sign_in_completed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RiskState:
    """The session's latest risk decision, as the session carries it."""

    decision_id: int
    action: str
    findings: tuple[Finding, ...]
    resolved: bool
    at: float
    amr: tuple[str, ...]

    @property
    def needs_step_up(self) -> bool:
        return self.action == Action.STEP_UP and not self.resolved

    @property
    def ends_session(self) -> bool:
        return self.action in (Action.END_SESSION, Action.BLOCK)


def assess(*, context: RequestContext, history: History, trigger: str) -> list[Finding]:
    """Every configured assessor's findings (CIAM_SESSIONS_RISK_ASSESSORS). An assessor that
    fails is logged and skipped: risk evaluation never breaks a sign-in."""
    findings: list[Finding] = []
    for path in app_settings.RISK_ASSESSORS:
        try:
            findings.extend(import_string(path)(context=context, history=history, trigger=trigger))
        except Exception:
            logger.exception("Risk assessor %s failed", path)
    return findings


def _state_store(request: HttpRequest, decision: RiskDecision, amr: list[str]) -> None:
    request.session[SESSION_KEY_RISK] = {
        "decision": decision.pk,
        "action": decision.action,
        "findings": decision.findings,
        "resolved": decision.action == Action.ALLOW or decision.resolved_at is not None,
        "at": time.time(),
        "amr": list(amr),
        "user_id": str(decision.user_id),
    }


def risk_state(request: HttpRequest) -> RiskState | None:
    """The session's latest decision, for its signed-in user; None without one."""
    data = request.session.get(SESSION_KEY_RISK)
    user = getattr(request, "user", None)
    if not isinstance(data, dict) or user is None or not user.is_authenticated:
        return None
    if data.get("user_id") != str(user.pk):
        return None
    return RiskState(
        decision_id=int(data.get("decision", 0)),
        action=str(data.get("action", Action.ALLOW)),
        findings=tuple(Finding.from_json(item) for item in data.get("findings") or []),
        resolved=bool(data.get("resolved")),
        at=float(data.get("at", 0)),
        amr=tuple(data.get("amr") or []),
    )


def _decide(
    *,
    request: HttpRequest,
    user_id: Any,
    record: BrowserSession | None,
    context: RequestContext,
    history: History,
    trigger: str,
) -> RiskDecision:
    findings = assess(context=context, history=history, trigger=trigger)
    action = action_for(findings, policy_rules()) if findings else Action.ALLOW
    decision = RiskDecision.objects.create(
        user_id=user_id,
        session=record,
        trigger=trigger,
        findings=[finding.as_json() for finding in findings],
        action=action,
        ip=context.ip,
        device_label=context.device_label[:160],
        place=context.place_label[:160],
    )
    pending = risk_state(request)
    if (
        trigger == RiskDecision.Trigger.SIGN_IN
        or pending is None
        or not pending.needs_step_up
        or ACTION_RANK.get(action, 0) >= ACTION_RANK[Action.STEP_UP]  # type: ignore[call-overload]
    ):
        # A step-up asked for within the session stays owed until given
        # (risk_step_up_resolve): a milder look at a later context does not cancel it.
        state = session_auth_state(request)
        _state_store(request, decision, state.amr if state else [])
    if action != Action.ALLOW:
        risk_challenged.send(
            sender=RiskDecision, request=request, user_id=str(user_id), decision=decision
        )
    return decision


def risk_evaluate_sign_in(
    *,
    request: HttpRequest,
    user: AbstractBaseUser,
    record: BrowserSession,
    context: RequestContext,
    failed_attempts: int = 0,
) -> RiskDecision:
    """Look at a completed sign-in (default policy: the client's own applies in the
    pipeline, ``risk_for_client``). An allowed sign-in's browser becomes a known device; a
    step-up leaves the session unconfirmed until it is met."""
    from .sessions import user_device_confirm

    history = user_history(
        user_id=str(user.pk),
        device_id=context.device_id,
        exclude_session_id=record.pk,
        failed_attempts=failed_attempts,
    )
    decision = _decide(
        request=request,
        user_id=user.pk,
        record=record,
        context=context,
        history=history,
        trigger=RiskDecision.Trigger.SIGN_IN,
    )
    confirmed = decision.action == Action.ALLOW
    if record.confirmed != confirmed:
        record.confirmed = confirmed
        record.save(update_fields=["confirmed"])
    if confirmed:
        user_device_confirm(record=record, label=context.device_label)
    sign_in_completed.send(
        sender=RiskDecision,
        request=request,
        user=user,
        sid=record.sid,
        amr=list(record.amr or []),
        acr=record.acr,
        decision=decision,
    )
    return decision


def risk_evaluate_context_change(
    *,
    request: HttpRequest,
    record_id: int,
    context: RequestContext,
    session_browser: str,
    session_os: str,
) -> str | None:
    """The session is used with another user agent or from another network: assess again.
    Returns the action when the session must stop here (ended or blocked, after enforcing
    it), None otherwise (allowed, or a step-up now pending)."""
    user = request.user
    # The session itself is history here: its sign-in's network and place are what a
    # copied cookie used elsewhere differs from (also in the user's first session).
    history = user_history(
        user_id=str(user.pk),
        device_id=context.device_id,
        session_browser=session_browser,
        session_os=session_os,
    )
    record = BrowserSession.objects.filter(pk=record_id).first()
    decision = _decide(
        request=request,
        user_id=user.pk,
        record=record,
        context=context,
        history=history,
        trigger=RiskDecision.Trigger.CONTEXT_CHANGE,
    )
    if decision.action == Action.STEP_UP and record is not None and record.confirmed:
        BrowserSession.objects.filter(pk=record_id).update(confirmed=False)
    if decision.action in (Action.END_SESSION, Action.BLOCK):
        risk_enforce(request=request)
        return str(decision.action)
    return None


def risk_step_up_pending(*, request: HttpRequest, client_id: str = "") -> RiskState | None:
    """The session's decision when it still owes a step-up (with ``client_id``'s policy
    applied); None otherwise (see ``risk_step_up_owed``)."""
    state = (
        risk_for_client(request=request, client_id=client_id) if client_id else risk_state(request)
    )
    return risk_step_up_owed(request=request, state=state)


def risk_step_up_owed(*, request: HttpRequest, state: RiskState | None) -> RiskState | None:
    """``state`` when it still owes a step-up, else None. A step-up the session has already
    met in the meantime (the resolvers of CIAM_SESSIONS_STEP_UP_RESOLVERS say how) is
    resolved here."""
    if state is None or not state.needs_step_up:
        return None
    for path in app_settings.STEP_UP_RESOLVERS:
        method = import_string(path)(request=request, since=state.at, amr_before=state.amr)
        if method:
            risk_step_up_resolve(request=request, method=str(method))
            return None
    return state


def risk_for_client(*, request: HttpRequest, client_id: str) -> RiskState | None:
    """The session's decision with ``client_id``'s own policy applied to its findings: a
    stricter action replaces the stored one (and is recorded on the decision)."""
    state = risk_state(request)
    if state is None or not state.findings or not client_id:
        return state
    action = action_for(state.findings, policy_rules(client_id=client_id))
    if ACTION_RANK.get(action, 0) <= ACTION_RANK.get(state.action, 0):  # type: ignore[call-overload]
        return state
    RiskDecision.objects.filter(pk=state.decision_id).update(action=action, client_id=client_id)
    data = dict(request.session[SESSION_KEY_RISK])
    data["action"] = action
    data["resolved"] = action == Action.ALLOW
    request.session[SESSION_KEY_RISK] = data
    if action == Action.STEP_UP:
        BrowserSession.objects.filter(decisions__pk=state.decision_id).update(confirmed=False)
    return risk_state(request)


@transaction.atomic
def risk_step_up_resolve(*, request: HttpRequest, method: str) -> bool:
    """The user proved ``method`` (an RFC 8176 amr value) for the pending step-up: the
    decision is resolved, the session confirmed, its browser a known device. False when no
    step-up was pending."""
    from .sessions import current_session_id, user_device_confirm

    state = risk_state(request)
    if state is None or not state.needs_step_up:
        return False
    RiskDecision.objects.filter(pk=state.decision_id, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_with=method[:16]
    )
    data = dict(request.session[SESSION_KEY_RISK])
    data["resolved"] = True
    request.session[SESSION_KEY_RISK] = data
    context = request.session.get(SESSION_KEY_CONTEXT)
    if isinstance(context, dict):
        # The browser it was confirmed in is the session's browser from now on.
        browser = browser_of(user_agent_of(request))
        context.update(browser=browser.family, os=browser.os)
        request.session[SESSION_KEY_CONTEXT] = context
    record_id = current_session_id(request)
    record = BrowserSession.objects.filter(pk=record_id).first() if record_id else None
    if record is not None:
        BrowserSession.objects.filter(pk=record.pk).update(confirmed=True)
        user_device_confirm(record=record)
    return True


def risk_enforce(*, request: HttpRequest) -> str | None:
    """End the session when its decision says so; a block also emails the user. Returns the
    action enforced, or None."""
    from .sessions import session_end

    state = risk_state(request)
    if state is None or not state.ends_session:
        return None
    user = request.user
    decision = RiskDecision.objects.filter(pk=state.decision_id).first()
    session_end(request=request, reason=EndReason.RISK)
    if state.action == Action.BLOCK and decision is not None:
        _blocked_email(request, user, decision)
    return state.action


def _blocked_email(request: HttpRequest, user: Any, decision: RiskDecision) -> None:
    from allauth.account.adapter import get_adapter

    from ..risk.findings import finding_reason

    email = getattr(user, "email", "")
    if not email:
        return
    reasons = [finding_reason(f.code, f.params) for f in map(Finding.from_json, decision.findings)]
    try:
        get_adapter(request).send_mail(
            "sessions_ctx/email/sign_in_blocked",
            email,
            {"user": user, "decision": decision, "reasons": reasons},
        )
    except Exception:
        logger.exception("The blocked sign-in notice to user %s could not be sent", user.pk)
