"""What meets a step-up, by the customer's methods (package docstring)."""

from __future__ import annotations

from typing import Literal

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from sessions_ctx.selectors import session_auth_state

from ..mfa.selectors import totp_verified_in_session, user_has_totp
from ..passkeys.selectors import user_has_passkey

StepUpMethod = Literal["passkey", "totp", "email"]
PASSKEY_AMR = frozenset({"hwk", "swk"})


def step_up_method(*, user: AbstractBaseUser) -> StepUpMethod:
    if user_has_passkey(user):
        return "passkey"
    if user_has_totp(user=user):
        return "totp"
    return "email"


def step_up_met_by_session(
    *, request: HttpRequest, since: float, amr_before: tuple[str, ...] = ()
) -> str:
    """The RFC 8176 method by which the session, authenticated at or after ``since``,
    already meets the step-up (CIAM_SESSIONS_STEP_UP_RESOLVERS), or "". Only a method proven
    since the decision counts: one it had before (``amr_before``) does not."""
    state = session_auth_state(request)
    if state is None or state.auth_time < int(since):
        return ""
    amr = set(state.amr) - set(amr_before)
    method = step_up_method(user=request.user)
    if method == "passkey":
        return next(iter(sorted(amr & PASSKEY_AMR)), "")
    if method == "totp":
        return "otp" if totp_verified_in_session(request=request, state=state) else ""
    # "email": a sign-in by emailed code (or the step-up's own code) proved the address.
    return "otp" if "otp" in amr else ""
