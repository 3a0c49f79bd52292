"""Reads about a user's second factor and what an authorization request demands of it.

The decision that ``steps.SecondFactorStep`` and the verification page share is
``second_factor_decision``. Its rules:

1. A client may demand an authentication level (acr): acr_values, an essential ``acr``
   claim, its registered ``min_acr``. sessions_ctx.policy says what the request demands
   (``client_acr_requirement``) and what the session lacks to meet it (``acr_shortfall``);
   the session's acr must reach the demand.
2. A user who has confirmed an authenticator app gives a code from it once per session
   (the user's own policy): met by a session acr of "2" or more, or by a code verified for
   the session's current authentication (after an emailed code or another provider the acr
   stays "1", yet the code is not asked again).
3. A remembered browser (signed cookie, see ``remembered_device_valid``) stands in for the
   user's own policy only. It never satisfies a client's explicit demand (acr_values,
   essential acr claim, min_acr): a client asking for "2" gets a session whose ID token
   truthfully says acr "2" and amr "otp", never a remembered "1".
4. Otherwise the code is asked for when it meets what is missing. A demand it cannot meet
   is unmet: "2" from a user without an authenticator app (the page offers to set one up),
   "2" when the session signed in without a knowledge factor (signing in again with the
   password would do), "phr"/"phrh" (a passkey sign-in would do), unknown essential
   values. For prompt=none an unmet demand is ``unmet_authentication_requirements``
   (OpenID Connect Core Unmet Authentication Requirements 1.0), a missing code
   ``login_required``.
"""

from __future__ import annotations

import enum
import time
from base64 import b32encode
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import segno
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ciam.interaction import PendingAuthorization
from sessions_ctx import throttle
from sessions_ctx.constants import ACR_TWO_FACTORS
from sessions_ctx.device import device_id_of
from sessions_ctx.policy import (
    Shortfall,
    acr_shortfall,
    client_acr_requirement,
    session_has_two_factors,
)
from sessions_ctx.selectors import AuthState, session_auth_state
from sessions_ctx.throttle import Limit

from .app_settings import app_settings
from .constants import (
    CACHE_PREFIX_FAILURES,
    REMEMBER_COOKIE_NAME,
    REMEMBER_COOKIE_SALT,
    REMEMBER_FINGERPRINT_SALT,
    SESSION_KEY_VERIFIED,
)

ERROR_LOGIN_REQUIRED = "login_required"
ERROR_UNMET = "unmet_authentication_requirements"


# --- devices ----------------------------------------------------------------------------------


def totp_device_confirmed(*, user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_device_unconfirmed(*, user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def user_has_totp(*, user: AbstractBaseUser) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_remaining(*, user: AbstractBaseUser) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@dataclass(frozen=True)
class TotpProvisioning:
    """What an authenticator app needs: the otpauth URI as a QR code, or the key typed in."""

    uri: str
    secret: str  # base32, as authenticator apps expect it
    qr_data_uri: str
    qr_size: int

    @property
    def secret_groups(self) -> str:
        """The key in groups of four characters, easier to type."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def totp_provisioning(*, device: TOTPDevice, user: AbstractBaseUser) -> TotpProvisioning:
    """The Key URI Format of Google Authenticator (understood by every authenticator app):
    otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
    """
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    issuer = app_settings.TOTP_ISSUER.replace(":", "")
    account = user.get_username()
    label = f"{issuer}:{account}" if issuer else account
    params: dict[str, Any] = {
        "secret": secret,
        "algorithm": "SHA1",
        "digits": device.digits,
        "period": device.step,
    }
    if issuer:
        params["issuer"] = issuer
    uri = f"otpauth://totp/{quote(label)}?{urlencode(params, quote_via=quote)}"
    qr = segno.make(uri, error="m")
    scale = 5
    width, _height = qr.symbol_size(scale=scale, border=2)
    return TotpProvisioning(
        uri=uri,
        secret=secret,
        qr_data_uri=qr.svg_data_uri(scale=scale, border=2, dark="#000", light="#fff"),
        qr_size=width,
    )


# --- failed attempts ---------------------------------------------------------------------------


def failure_limits(request: HttpRequest) -> list[Limit]:
    """Wrong codes allowed: ``CIAM_MFA_MAX_FAILED_CODES`` per client address and per user
    within ``CIAM_MFA_FAILED_CODES_WINDOW_SECONDS`` (sessions_ctx.throttle)."""
    limit = app_settings.MAX_FAILED_CODES
    window = app_settings.FAILED_CODES_WINDOW_SECONDS
    limits = [Limit(throttle.address_counter(CACHE_PREFIX_FAILURES, request), limit, window)]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        limits.append(Limit(user_failure_counter(user.pk), limit, window))
    return limits


def user_failure_counter(user_id: object) -> str:
    return throttle.user_counter(CACHE_PREFIX_FAILURES, user_id)


def failed_attempts_retry_after(*, request: HttpRequest) -> int:
    """Seconds until a code may be tried again; 0 while fewer than
    ``CIAM_MFA_MAX_FAILED_CODES`` attempts failed in the current window."""
    return throttle.retry_after(failure_limits(request))


# --- remembered browsers ----------------------------------------------------------------------


def remembered_device_fingerprint(*, user: AbstractBaseUser) -> str | None:
    """A per-user secret that a remembered-browser cookie must carry.

    It changes when the authenticator app is removed or replaced (new device row and key),
    when recovery codes are regenerated (new StaticDevice row) and when the password changes,
    so each of these forgets every remembered browser. None without an authenticator app.
    """
    totp = totp_device_confirmed(user=user)
    if totp is None:
        return None
    recovery = ",".join(
        str(pk)
        for pk in StaticDevice.objects.filter(user=user).order_by("pk").values_list("pk", flat=True)
    )
    value = f"{user.pk}|{totp.pk}|{totp.key}|{recovery}|{user.password}"
    return salted_hmac(REMEMBER_FINGERPRINT_SALT, value, algorithm="sha256").hexdigest()


def remembered_device_valid(*, request: HttpRequest, user: AbstractBaseUser) -> bool:
    """True when this browser carries a valid "remember this browser" cookie for ``user``."""
    days = app_settings.REMEMBER_DEVICE_DAYS
    value = request.COOKIES.get(REMEMBER_COOKIE_NAME, "")
    if days <= 0 or not value:
        return False
    try:
        data = signing.loads(value, salt=REMEMBER_COOKIE_SALT, max_age=days * 24 * 3600)
    except signing.BadSignature:  # also SignatureExpired
        return False
    if not isinstance(data, dict) or data.get("u") != str(user.pk):
        return False
    if data.get("d") and not constant_time_compare(str(data["d"]), device_id_of(request)):
        return False  # bound to another browser's device cookie
    fingerprint = remembered_device_fingerprint(user=user)
    return fingerprint is not None and constant_time_compare(str(data.get("f", "")), fingerprint)


# --- what a request demands -------------------------------------------------------------------


class Outcome(enum.Enum):
    SATISFIED = "satisfied"
    SIGN_IN = "sign_in"  # nobody (or somebody else) is signed in
    ASK_CODE = "ask_code"  # the authenticator app or a recovery code is needed
    UNMET = "unmet"  # the user's methods cannot reach the required level


class UnmetReason(enum.Enum):
    NO_SECOND_FACTOR = "no_second_factor"  # "2" demanded, no authenticator app yet
    # "2" demanded, but a code adds no second kind of factor to how this session signed in
    # (an emailed code, another provider); signing in with the password would.
    FIRST_FACTOR_TOO_WEAK = "first_factor_too_weak"
    PASSKEY_REQUIRED = "passkey_required"  # "phr" or "phrh" demanded
    UNSUPPORTED = "unsupported"  # an essential acr this provider does not offer


@dataclass(frozen=True)
class SecondFactorDecision:
    outcome: Outcome
    required_acr: str | None = None
    # True when the client demanded more than the session has (a step-up), False when only
    # the user's own policy asks for the second factor.
    step_up: bool = False
    reason: UnmetReason | None = None

    @property
    def prompt_none_error(self) -> str:
        """OIDC Core 3.1.2.6 error for prompt=none: a missing factor needs authentication
        (login_required); a level out of the user's reach is unmet (Unmet Authentication
        Requirements 1.0)."""
        return ERROR_UNMET if self.outcome is Outcome.UNMET else ERROR_LOGIN_REQUIRED


def totp_verified_in_session(*, request: HttpRequest, state: AuthState) -> bool:
    """The authenticator (or a recovery code) was verified for this very authentication of
    the session: same user and sid, and no sign-in since (auth_time and amr unchanged).

    The user's own policy asks for the code, not for a level: after a sign-in with an
    emailed code or another provider, the code from the app is still required once, though
    both are possession factors and the acr stays "1" (sessions_ctx.strength).
    """
    marker = request.session.get(SESSION_KEY_VERIFIED) or {}
    return (
        marker.get("user_id") == state.user_id
        and marker.get("sid") == state.sid
        and marker.get("auth_time") == state.auth_time
        and marker.get("amr") == state.amr
    )


def second_factor_decision(
    *, request: HttpRequest, pending: PendingAuthorization
) -> SecondFactorDecision:
    """Whether the signed-in session meets what the request and the user demand (module
    docstring), and if not, what would."""
    state = session_auth_state(request)
    if state is None:
        return SecondFactorDecision(Outcome.SIGN_IN)
    client = pending.client
    demanded = client_acr_requirement(
        acr_values=pending.acr_values,
        essential_acr=pending.essential_acr,
        min_acr=str(getattr(client, "min_acr", "") or ""),
    )
    shortfall = acr_shortfall(amr=state.amr, acr=state.acr, demanded=demanded)
    if shortfall is Shortfall.UNSUPPORTED:
        return SecondFactorDecision(Outcome.UNMET, step_up=True, reason=UnmetReason.UNSUPPORTED)
    user = request.user
    has_totp = user_has_totp(user=user)
    if shortfall is Shortfall.NONE:
        own_met = (
            not has_totp
            or session_has_two_factors(acr=state.acr)
            or totp_verified_in_session(request=request, state=state)
        )
        # Rule 3: a remembered browser stands in for the user's own policy only.
        if own_met or remembered_device_valid(request=request, user=user):
            return SecondFactorDecision(Outcome.SATISFIED, required_acr=demanded)
        return SecondFactorDecision(Outcome.ASK_CODE, required_acr=ACR_TWO_FACTORS)
    if shortfall is Shortfall.PASSKEY:
        reason = UnmetReason.PASSKEY_REQUIRED
    elif not has_totp:
        reason = UnmetReason.NO_SECOND_FACTOR
    elif shortfall is Shortfall.ONE_TIME_CODE:
        # A code from the app reaches the level on top of how this session signed in.
        return SecondFactorDecision(Outcome.ASK_CODE, required_acr=demanded, step_up=True)
    else:
        reason = UnmetReason.FIRST_FACTOR_TOO_WEAK
    return SecondFactorDecision(Outcome.UNMET, required_acr=demanded, step_up=True, reason=reason)


def authentication_is_recent(*, request: HttpRequest) -> bool:
    """The session's last real authentication is at most CIAM_MFA_RECENT_AUTHENTICATION_SECONDS
    old (setting up an authenticator changes how the account signs in)."""
    state = session_auth_state(request)
    if state is None:
        return False
    return time.time() - state.auth_time <= app_settings.RECENT_AUTHENTICATION_SECONDS


def session_needs_second_factor(*, request: HttpRequest) -> bool:
    """The signed-in user has an authenticator app but this session has only one factor and
    the browser is not remembered: account pages must ask for the code first (the session
    exists after the password alone, for the interaction pipeline's sake)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    state = session_auth_state(request)
    if state is not None and (
        session_has_two_factors(acr=state.acr)
        or totp_verified_in_session(request=request, state=state)
    ):
        return False
    if not user_has_totp(user=user):
        return False
    return not remembered_device_valid(request=request, user=user)
