"""Every write of the second factor: enrolment, codes, removal, verification, counters."""

from __future__ import annotations

import enum
import secrets

from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django_otp.oath import hotp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sessions_ctx import throttle
from sessions_ctx.selectors import AuthState, session_auth_state
from sessions_ctx.services.authentication import session_add_factor
from sessions_ctx.services.reauthentication import (
    ReauthenticationProof,
    reauthentication_password_check,
    session_reauthenticate,
)

from .app_settings import app_settings
from .constants import (
    AMR_OTP,
    RECOVERY_CODE_ALPHABET,
    RECOVERY_CODE_LENGTH,
    RECOVERY_DEVICE_NAME,
    REMEMBER_COOKIE_SALT,
    SESSION_KEY_VERIFIED,
    TOTP_DEVICE_NAME,
)
from .notices import security_notice_send
from .selectors import (
    failure_limits,
    remembered_device_fingerprint,
    totp_device_confirmed,
    totp_device_unconfirmed,
    totp_verified_in_session,
    user_failure_counter,
)
from .signals import recovery_codes_generated, second_factor_disabled, second_factor_enabled


class CodeCheck(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # wrong, malformed, or no such device
    REUSED = "reused"  # the authenticator's code that was just used (RFC 6238 5.2)
    THROTTLED = "throttled"  # django-otp's back-off after failures: try again in a moment

    @property
    def ok(self) -> bool:
        return self is CodeCheck.ACCEPTED


def normalize_code(code: str) -> str:
    """Codes may be typed with spaces or hyphens and in any case (``ABCDE-FGHIJ``)."""
    return "".join(code.split()).replace("-", "").lower()[:32]


def format_recovery_code(code: str) -> str:
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


# --- failed attempts --------------------------------------------------------------------------


def failed_attempt_record(*, request: HttpRequest) -> None:
    """Count a rejected code against the user and the client address (a fixed window per
    counter, started by its first failure; selectors.failed_attempts_retry_after reads it)."""
    throttle.hit_all(failure_limits(request))


def failed_attempts_clear_user(*, request: HttpRequest) -> None:
    """After a success the user's counter restarts; the address's counter does not."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        throttle.clear(user_failure_counter(user.pk))


# --- checking codes ---------------------------------------------------------------------------


def _totp_check(device_pk: int, code: str) -> CodeCheck:
    """Verify a TOTP code once: the row is locked so that two requests with the same code
    cannot both pass, and django-otp refuses any time step up to the last accepted one."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device_pk)
        allowed, _info = device.verify_is_allowed()
        if not allowed:
            return CodeCheck.THROTTLED
        if device.verify_token(code):
            return CodeCheck.ACCEPTED
        if device.last_t >= 0 and hotp(device.bin_key, device.last_t, device.digits) == int(code):
            return CodeCheck.REUSED
        return CodeCheck.REJECTED


def _recovery_check(user: AbstractBaseUser, code: str) -> CodeCheck:
    """Spend a recovery code. A single DELETE decides, so a code works once even when two
    requests race (StaticDevice.verify_token reads, then deletes); django-otp's throttling
    of the device still applies."""
    device = StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        return CodeCheck.REJECTED
    allowed, _info = device.verify_is_allowed()
    if not allowed:
        return CodeCheck.THROTTLED
    deleted, _per_model = StaticToken.objects.filter(device=device, token=code).delete()
    if not deleted:
        device.throttle_increment()
        return CodeCheck.REJECTED
    device.throttle_reset(commit=False)
    device.set_last_used_timestamp(commit=False)
    device.save()
    return CodeCheck.ACCEPTED


def _code_check(user: AbstractBaseUser, code: str) -> CodeCheck:
    """A six-digit code goes to the authenticator app, a ten-character one to the recovery
    codes; nothing is tried twice."""
    device = totp_device_confirmed(user=user)
    if device is None:
        return CodeCheck.REJECTED
    normalized = normalize_code(code)
    if normalized.isdigit() and len(normalized) == device.digits:
        return _totp_check(device.pk, normalized)
    if len(normalized) == RECOVERY_CODE_LENGTH:
        return _recovery_check(user, normalized)
    return CodeCheck.REJECTED


def _session_add_second_factor(request: HttpRequest) -> AuthState:
    """The session now has the second factor: amr "otp" (acr "2" after a password), and a
    record that the code was given for this authentication (selectors.
    totp_verified_in_session). The session id is renewed, as allauth does on sign-in
    (OWASP Session Management: a new id on any privilege level change; session_add_factor
    renews it)."""
    state = session_add_factor(request=request, methods=[AMR_OTP])
    _mark_verified(request, state)
    return state


def _mark_verified(request: HttpRequest, state: AuthState) -> None:
    """Record that the second factor was given for the session's authentication ``state``
    (selectors.totp_verified_in_session)."""
    request.session[SESSION_KEY_VERIFIED] = {
        "user_id": state.user_id,
        "sid": state.sid,
        "auth_time": state.auth_time,
        "amr": state.amr,
    }


def second_factor_verify(*, request: HttpRequest, code: str) -> tuple[CodeCheck, AuthState | None]:
    """Check an authenticator or recovery code of the signed-in user; on success the
    session gains the factor (amr "otp", "mfa"; acr "2") for the rest of its life.

    Every failure counts against the user and the client address (the view answers 429 past
    the limit); success restarts the user's count.
    """
    result = _code_check(request.user, code)
    if not result.ok:
        failed_attempt_record(request=request)
        return result, None
    failed_attempts_clear_user(request=request)
    return result, _session_add_second_factor(request)


def reauthentication_verify(*, request: HttpRequest, password: str, code: str) -> CodeCheck:
    """Confirm it is really the signed-in user before a sensitive change: the password, or a
    current authenticator code (a recovery code also counts).

    sessions_ctx.services.reauthentication decides the rest, for every page alike: a proof
    that holds is an authentication (auth_time moves to now, the method joins amr); each
    failure counts against the re-authentication budget (per user and per address) and,
    being a wrong password or code on this page, against this package's budget of wrong
    codes too. Raises ReauthenticationThrottled when either budget is spent.

    A second factor already given for this session stays given (the marker follows the new
    auth_time), and a code given here is one.
    """
    user = request.user
    state = session_auth_state(request)
    had_second_factor = state is not None and totp_verified_in_session(request=request, state=state)

    def check() -> ReauthenticationProof[CodeCheck]:
        if password:
            checked = reauthentication_password_check(user=user, password=password)
            result = CodeCheck.ACCEPTED if checked.ok else CodeCheck.REJECTED
            return ReauthenticationProof(ok=checked.ok, methods=checked.methods, detail=result)
        result = _code_check(user, code) if code else CodeCheck.REJECTED
        return ReauthenticationProof(ok=result.ok, methods=(AMR_OTP,), detail=result)

    outcome = session_reauthenticate(request=request, check=check, also=failure_limits(request))
    if outcome.state is not None:
        failed_attempts_clear_user(request=request)
        if had_second_factor or not password:
            _mark_verified(request, outcome.state)
    return outcome.proof.detail


# --- enrolment and removal --------------------------------------------------------------------


def totp_enrol_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed authenticator of ``user``: the one already shown, or a new random key
    (20 bytes, RFC 4226 4 recommends 160 bits). It stays inert until ``totp_confirm``."""
    device = totp_device_unconfirmed(user=user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def recovery_code_new() -> str:
    return "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))


def _recovery_codes_replace(user: AbstractBaseUser) -> list[str]:
    """Delete the user's recovery codes and store new ones (call inside a transaction)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes: list[str] = []
    while len(codes) < app_settings.RECOVERY_CODE_COUNT:
        code = recovery_code_new()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return [format_recovery_code(code) for code in codes]


def recovery_codes_generate(
    *, user: AbstractBaseUser, request: HttpRequest | None = None
) -> list[str]:
    """Replace the user's recovery codes with ``CIAM_MFA_RECOVERY_CODE_COUNT`` new ones.

    The old codes stop working at once, and so does every remembered browser (the device row
    is part of their fingerprint). The codes are returned to be shown once. The owner is
    told by email, then ``signals.recovery_codes_generated`` is sent.
    """
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
    security_notice_send(
        request=request,
        user=user,
        notice="recovery_codes_generated",
        manage_url_name="mfa:overview",
    )
    recovery_codes_generated.send(
        sender=StaticDevice, request=request, user=user, count=len(codes), initial=False
    )
    return codes


def totp_confirm(*, request: HttpRequest, code: str) -> tuple[CodeCheck, list[str]]:
    """Confirm the authenticator being set up with a code it shows now.

    Only then is the device confirmed and the second factor required at sign-in. The
    verified code also counts as a second factor for this session. Returns the new
    recovery codes (shown once), or an empty list when the code was not accepted. The owner
    is told by email (one mail: the first recovery codes come with the app), then
    ``signals.second_factor_enabled`` and ``signals.recovery_codes_generated`` are sent.
    """
    user = request.user
    device = totp_device_unconfirmed(user=user)
    if device is None:
        return CodeCheck.REJECTED, []
    normalized = normalize_code(code)
    result = (
        _totp_check(device.pk, normalized)
        if normalized.isdigit() and len(normalized) == device.digits
        else CodeCheck.REJECTED
    )
    if not result.ok:
        failed_attempt_record(request=request)
        return result, []
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        codes = _recovery_codes_replace(user)
    failed_attempts_clear_user(request=request)
    _session_add_second_factor(request)
    device.confirmed = True
    security_notice_send(
        request=request, user=user, notice="second_factor_enabled", manage_url_name="mfa:overview"
    )
    second_factor_enabled.send(sender=TOTPDevice, request=request, user=user, device=device)
    recovery_codes_generated.send(
        sender=StaticDevice, request=request, user=user, count=len(codes), initial=True
    )
    return result, codes


def totp_disable(*, user: AbstractBaseUser, request: HttpRequest | None = None) -> None:
    """Remove the authenticator app and the recovery codes: sign-in is one factor again and
    every remembered browser is forgotten. Callers re-authenticate the user first. The owner
    is told by email, then ``signals.second_factor_disabled`` is sent (only when two-step
    verification was on)."""
    with transaction.atomic():
        was_on = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
    if not was_on:
        return
    security_notice_send(
        request=request, user=user, notice="second_factor_disabled", manage_url_name="mfa:overview"
    )
    second_factor_disabled.send(sender=TOTPDevice, request=request, user=user)


# --- remembered browsers ----------------------------------------------------------------------


def remembered_device_cookie_value(*, user: AbstractBaseUser, device_id: str = "") -> str | None:
    """The signed value of a "remember this browser" cookie for ``user`` (timestamped, so
    that its age is checked on use; see selectors.remembered_device_valid), bound to the
    browser's device cookie (sessions_ctx.device) when ``device_id`` is given: copied to
    another browser, it counts for nothing."""
    fingerprint = remembered_device_fingerprint(user=user)
    if fingerprint is None:
        return None
    data = {"u": str(user.pk), "f": fingerprint}
    if device_id:
        data["d"] = device_id
    return signing.dumps(data, salt=REMEMBER_COOKIE_SALT)
