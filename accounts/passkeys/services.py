"""Passkey ceremonies (WebAuthn L3 7.1 registration, 7.2 authentication) and management.

Challenges are single-use and bound to the session: each ``*_begin`` stores one challenge
with its expiry under a session key, each ``*_complete`` takes it out before checking
anything, so a response can be verified at most once. The relying party ID and the allowed
origins come from settings (``CIAM_PASSKEYS_RP_ID``, ``CIAM_PASSKEYS_ORIGINS``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from django.contrib.auth import login
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    ClientDataType,
    CollectedClientData,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.links import issuer_url
from sessions_ctx import throttle
from sessions_ctx.policy import session_second_factor_missing
from sessions_ctx.selectors import AuthState
from sessions_ctx.services.authentication import session_record_authentication
from sessions_ctx.services.reauthentication import (
    ReauthenticationThrottled,
    reauthentication_password_check,
    session_reauthenticate,
)

from ..mfa.notices import security_notice_send
from .app_settings import app_settings
from .constants import (
    AMR_HARDWARE_KEY,
    AMR_SOFTWARE_KEY,
    AMR_USER_PRESENCE_VERIFIED,
    SESSION_KEY_AUTHENTICATION,
    SESSION_KEY_REGISTRATION,
    USER_HANDLE_BYTES,
)
from .models import Passkey, PasskeyOfferDismissal
from .selectors import (
    failed_attempts_retry_after,
    failure_limit,
    passkey_is_last_way_in,
    passkeys_of,
    session_authenticated_since,
    session_recently_authenticated,
)
from .signals import (
    passkey_disabled,
    passkey_reenabled,
    passkey_registered,
    passkey_removed,
    passkey_used,
)

# The backend Django records in the session for a passkey sign-in (any configured backend
# that loads users by primary key would do; this one is always configured).
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"
NAME_MAX_LENGTH = Passkey._meta.get_field("name").max_length
MAX_PENDING_CHALLENGES = 5
# Authenticators that do not say which model they are send zeros (WebAuthn L3 6.5.1).
NO_AAGUID = "00000000-0000-0000-0000-000000000000"


class PasskeyError(Exception):
    """A refused ceremony or action: ``code`` for programs, ``message`` for people."""

    def __init__(self, code: str, message: str, status: int = 400, retry_after: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        # Seconds to wait when refused for too many failures (HTTP 429 with Retry-After).
        self.retry_after = retry_after


# --- challenges --------------------------------------------------------------------------------


def _challenge_store(request: HttpRequest, key: str, challenge: bytes, **extra: str) -> None:
    """Keep ``challenge`` in the session until it is used or expires. A few may be pending at
    once (autofill and the button on the same page, several tabs), each usable once."""
    now = time.time()
    pending = [
        entry
        for entry in request.session.get(key) or []
        if isinstance(entry, dict) and float(entry.get("expires", 0)) > now
    ]
    pending.append(
        {
            "challenge": bytes_to_base64url(challenge),
            "expires": now + app_settings.CHALLENGE_SECONDS,
            **extra,
        }
    )
    request.session[key] = pending[-MAX_PENDING_CHALLENGES:]


def _challenge_take(request: HttpRequest, key: str, challenge: bytes) -> dict[str, Any]:
    """The session's pending entry for ``challenge``, removed from the session (single use).

    Raises PasskeyError when there is none or it expired: the response answers a request
    that was already used, never made in this session, or is too old.
    """
    now = time.time()
    wanted = bytes_to_base64url(challenge)
    pending = [entry for entry in request.session.get(key) or [] if isinstance(entry, dict)]
    found = None
    for entry in pending:
        if secrets.compare_digest(str(entry.get("challenge", "")), wanted):
            found = entry
    if found is not None:
        pending.remove(found)
        request.session[key] = pending
    if found is None or float(found.get("expires", 0)) <= now:
        raise PasskeyError(
            "challenge_expired",
            _("This passkey request has expired or was already used. Try again."),
        )
    return found


def _client_data(credential: Mapping[str, Any]) -> CollectedClientData:
    try:
        raw = base64url_to_bytes(str(credential["response"]["clientDataJSON"]))
        return parse_client_data_json(raw)
    except (KeyError, TypeError, ValueError, WebAuthnException) as error:
        raise PasskeyError(
            "invalid_response", _("Your passkey could not be verified. Try again.")
        ) from error


def _take_checked_challenge(
    request: HttpRequest, credential: Mapping[str, Any], *, key: str, kind: ClientDataType
) -> tuple[bytes, dict[str, Any]]:
    """The challenge this response answers, taken out of the session, after clear refusals
    for the two mistakes made most: answering a request that is used up (a replayed
    response) and answering for another website (WebAuthn L3 7.1 steps 9-11, 7.2 steps
    12-14). The library checks everything again afterwards, the signature included."""
    client_data = _client_data(credential)
    entry = _challenge_take(request, key, client_data.challenge)
    if client_data.type != kind:
        raise PasskeyError("invalid_response", _("Your passkey could not be verified. Try again."))
    if client_data.origin not in app_settings.ORIGINS:
        raise PasskeyError(
            "origin_mismatch",
            _(
                "This passkey response was made for another website (%(origin)s) "
                "and cannot be used here."
            )
            % {"origin": str(client_data.origin)[:100]},
        )
    return client_data.challenge, entry


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    known = {transport.value: transport for transport in AuthenticatorTransport}
    transports = [known[value] for value in passkey.transports if value in known]
    return PublicKeyCredentialDescriptor(
        id=bytes(passkey.credential_id), transports=transports or None
    )


# --- registration ------------------------------------------------------------------------------


def _require_recent_authentication(request: HttpRequest) -> None:
    """Adding or removing a passkey changes how the account signs in: the session must
    have the user's second factor (sessions_ctx.policy asks the methods that own one) and a
    sign-in at most a few minutes old."""
    if session_second_factor_missing(request):
        raise PasskeyError(
            "second_factor_required",
            _("Enter the code from your authenticator app first."),
            status=403,
        )
    if not session_recently_authenticated(request):
        raise PasskeyError(
            "reauthentication_required",
            _("Confirm it's you before adding or removing a passkey."),
            status=403,
        )


def passkey_register_begin(*, request: HttpRequest, user: AbstractBaseUser) -> dict[str, Any]:
    """Creation options for a new passkey of ``user`` (navigator.credentials.create).

    Discoverable credential required (it signs in without typing an email), user
    verification required, the user's existing passkeys excluded (WebAuthn L3 5.4). Needs a
    recent sign-in: a stolen session must not be able to plant its own passkey.
    """
    _require_recent_authentication(request)
    existing = list(passkeys_of(user))
    user_handle = (
        bytes(existing[0].user_handle) if existing else secrets.token_bytes(USER_HANDLE_BYTES)
    )
    options = generate_registration_options(
        rp_id=app_settings.RP_ID,
        rp_name=app_settings.RP_NAME,
        user_name=user.get_username(),
        user_id=user_handle,
        user_display_name=user.get_username(),
        timeout=app_settings.CHALLENGE_SECONDS * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(passkey) for passkey in existing],
    )
    _challenge_store(
        request,
        SESSION_KEY_REGISTRATION,
        options.challenge,
        user_id=str(user.pk),
        user_handle=bytes_to_base64url(user_handle),
    )
    return options_to_json_dict(options)


def _default_name(user: AbstractBaseUser) -> str:
    number = Passkey.objects.filter(user=user).count() + 1
    return _("Passkey %(number)s") % {"number": number}


@transaction.atomic
def passkey_register_complete(
    *,
    request: HttpRequest,
    user: AbstractBaseUser,
    credential: Mapping[str, Any],
    name: str = "",
) -> Passkey:
    """Verify the browser's answer to ``passkey_register_begin`` and keep the passkey; its
    owner is told by email (mfa.notices), then ``signals.passkey_registered`` is sent."""
    challenge, state = _take_checked_challenge(
        request, credential, key=SESSION_KEY_REGISTRATION, kind=ClientDataType.WEBAUTHN_CREATE
    )
    if state.get("user_id") != str(user.pk):
        raise PasskeyError(
            "challenge_expired",
            _("This passkey request has expired or was already used. Try again."),
        )
    _require_recent_authentication(request)
    try:
        parsed = parse_registration_credential_json(dict(credential))
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=app_settings.RP_ID,
            expected_origin=app_settings.ORIGINS,
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as error:
        raise PasskeyError(
            "invalid_response", _("Your passkey could not be verified. Try again.")
        ) from error
    if Passkey.objects.filter(credential_id=verified.credential_id).exists():
        raise PasskeyError("already_registered", _("This passkey is already registered."))
    transports = [str(getattr(t, "value", t)) for t in (parsed.response.transports or [])]
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                user=user,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                user_handle=base64url_to_bytes(state["user_handle"]),
                transports=transports,
                name=(name or "").strip()[:NAME_MAX_LENGTH] or _default_name(user),
                aaguid="" if verified.aaguid == NO_AAGUID else verified.aaguid,
                backed_up=verified.credential_backed_up,
            )
    except IntegrityError as error:  # the same credential registered concurrently
        raise PasskeyError(
            "already_registered", _("This passkey is already registered.")
        ) from error
    security_notice_send(
        request=request,
        user=user,
        notice="passkey_added",
        manage_url_name="passkeys:manage",
        context={"passkey_name": passkey.name},
    )
    passkey_registered.send(sender=Passkey, request=request, user=user, passkey=passkey)
    return passkey


# --- authentication ----------------------------------------------------------------------------


def passkey_authenticate_begin(*, request: HttpRequest) -> dict[str, Any]:
    """Request options for signing in with any passkey of this site (navigator.credentials
    .get): an empty allowCredentials list lets the browser offer discoverable credentials,
    for the button and for autofill (conditional mediation) alike."""
    options = generate_authentication_options(
        rp_id=app_settings.RP_ID,
        timeout=app_settings.CHALLENGE_SECONDS * 1000,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _challenge_store(request, SESSION_KEY_AUTHENTICATION, options.challenge)
    return options_to_json_dict(options)


def _record_failure(request: HttpRequest) -> None:
    throttle.hit_all([failure_limit(request)])


def _too_many_attempts(wait: int) -> PasskeyError:
    return PasskeyError(
        "too_many_attempts",
        _("Too many failed attempts. Try again in %(seconds)s seconds.") % {"seconds": wait},
        status=429,
        retry_after=wait,
    )


def _refuse_when_rate_limited(request: HttpRequest) -> None:
    wait = failed_attempts_retry_after(request=request)
    if wait:
        raise _too_many_attempts(wait)


def _counter_went_backwards(credential: Mapping[str, Any], passkey: Passkey) -> bool:
    try:
        data = base64url_to_bytes(str(credential["response"]["authenticatorData"]))
        count = parse_authenticator_data(data).sign_count
    except (KeyError, TypeError, ValueError, WebAuthnException):
        return False
    return (count > 0 or passkey.sign_count > 0) and count <= passkey.sign_count


def _verify_assertion(request: HttpRequest, credential: Mapping[str, Any]) -> tuple[Passkey, Any]:
    challenge, _entry = _take_checked_challenge(
        request, credential, key=SESSION_KEY_AUTHENTICATION, kind=ClientDataType.WEBAUTHN_GET
    )
    try:
        parsed = parse_authentication_credential_json(dict(credential))
    except (WebAuthnException, KeyError, TypeError, ValueError) as error:
        raise PasskeyError(
            "invalid_response", _("Your passkey could not be verified. Try again.")
        ) from error
    passkey = Passkey.objects.select_related("user").filter(credential_id=parsed.raw_id).first()
    if passkey is None:
        raise PasskeyError(
            "unknown_credential",
            _(
                "This passkey is not registered here. It may have been removed: "
                "sign in another way."
            ),
        )
    # WebAuthn L3 7.2 step 6: the user handle, when given, must be the credential's owner.
    user_handle = parsed.response.user_handle
    if user_handle and not secrets.compare_digest(bytes(user_handle), bytes(passkey.user_handle)):
        raise PasskeyError("invalid_response", _("Your passkey could not be verified. Try again."))
    if passkey.is_disabled:
        # Whatever its counter says now: a copy that keeps trying would otherwise overtake
        # the stored counter and get in.
        raise PasskeyError(
            "passkey_disabled",
            _(
                "This passkey is disabled because a copy of it may exist. Sign in another "
                "way, then re-enable or remove it on your passkeys page."
            ),
            status=403,
        )
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=app_settings.RP_ID,
            expected_origin=app_settings.ORIGINS,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except WebAuthnException as error:
        if _counter_went_backwards(credential, passkey):
            # WebAuthn L3 6.1.1: a signature counter that does not grow signals a cloned
            # authenticator. Refusing this one attempt is not enough: each try of the copy
            # raises its counter, until it passes the stored one. The passkey is disabled.
            passkey_disable(
                request=request, passkey=passkey, reason=Passkey.DisabledReason.COUNTER_REGRESSED
            )
            raise PasskeyError(
                "counter_regressed",
                _(
                    "This passkey was refused and disabled because its counter went "
                    "backwards, which can mean it was copied. Sign in another way."
                ),
            ) from error
        raise PasskeyError(
            "invalid_response", _("Your passkey could not be verified. Try again.")
        ) from error
    if not passkey.user.is_active:
        raise PasskeyError("account_inactive", _("This account is disabled."))
    # Compare-and-set: two concurrent uses of the same response cannot both pass the counter.
    updated = Passkey.objects.filter(pk=passkey.pk, sign_count=passkey.sign_count).update(
        sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up,
        last_used_at=timezone.now(),
    )
    if not updated and verified.new_sign_count:
        raise PasskeyError(
            "counter_regressed",
            _(
                "This passkey was refused because its counter went backwards, which can "
                "mean it was copied. Sign in another way."
            ),
        )
    passkey.refresh_from_db()
    return passkey, verified


def passkey_amr(passkey: Passkey) -> list[str]:
    """RFC 8176 methods of a passkey sign-in: the key's kind, and "user" (always verified
    here). sessions_ctx.strength turns these into acr "phrh" (device-bound) or "phr"."""
    kind = AMR_SOFTWARE_KEY if passkey.backed_up else AMR_HARDWARE_KEY
    return [kind, AMR_USER_PRESENCE_VERIFIED]


def passkey_authenticate_complete(
    *, request: HttpRequest, credential: Mapping[str, Any]
) -> AuthState:
    """Verify the browser's answer to ``passkey_authenticate_begin`` and sign its owner in.

    Failed attempts are counted per client address; past the limit every attempt is
    refused (HTTP 429) until the window ends.
    """
    _refuse_when_rate_limited(request)
    try:
        passkey, _verified = _verify_assertion(request, credential)
    except PasskeyError:
        _record_failure(request)
        raise
    user = passkey.user
    login(request, user, backend=LOGIN_BACKEND)
    # After login(): its user_logged_in receiver records amr from allauth's password records;
    # this sign-in's methods replace them.
    state = session_record_authentication(
        request=request, user_id=str(user.pk), methods=passkey_amr(passkey)
    )
    passkey_used.send(sender=Passkey, request=request, user=user, passkey=passkey)
    return state


def passkey_confirm_complete(*, request: HttpRequest, credential: Mapping[str, Any]) -> AuthState:
    """Verify the browser's answer to ``passkey_authenticate_begin`` as a proof by the
    signed-in user (a step-up asked by the risk policy): the session gains the passkey's
    methods (its id renewed, sid kept) without a new sign-in, and a pending step-up is met.
    A passkey of another account is refused."""
    from sessions_ctx.services.authentication import session_add_factor
    from sessions_ctx.services.risk import risk_step_up_resolve

    _refuse_when_rate_limited(request)
    try:
        passkey, _verified = _verify_assertion(request, credential)
        if passkey.user_id != request.user.pk:
            raise PasskeyError(
                "unknown_credential",
                _("This passkey belongs to another account. Use a passkey of this account."),
            )
    except PasskeyError:
        _record_failure(request)
        raise
    amr = passkey_amr(passkey)
    state = session_add_factor(request=request, methods=amr)
    risk_step_up_resolve(request=request, method=amr[0])
    passkey_used.send(sender=Passkey, request=request, user=passkey.user, passkey=passkey)
    return state


# --- disabling a passkey that may have been copied --------------------------------------------


def passkey_disable(*, request: HttpRequest, passkey: Passkey, reason: str) -> bool:
    """Disable ``passkey`` for ``reason`` (a ``Passkey.DisabledReason``): it no longer signs
    in, and its owner is told by email. True when this call disabled it (the email is sent
    once, however often the copy tries)."""
    now = timezone.now()
    updated = Passkey.objects.filter(pk=passkey.pk, disabled_at__isnull=True).update(
        disabled_at=now, disabled_reason=reason
    )
    if not updated:
        return False
    passkey.disabled_at, passkey.disabled_reason = now, reason
    _passkey_disabled_email(request, passkey)
    passkey_disabled.send(sender=Passkey, request=request, user=passkey.user, passkey=passkey)
    return True


def _passkey_disabled_email(request: HttpRequest, passkey: Passkey) -> None:
    user = passkey.user
    if not user.email:
        return
    get_account_adapter(request).send_mail(
        "passkeys/email/passkey_disabled",
        user.email,
        {
            "user": user,
            "passkey_name": passkey.name,
            "manage_url": issuer_url(reverse("passkeys:manage")),
        },
    )


def passkey_reenable_refusal(request: HttpRequest, passkey: Passkey) -> PasskeyError | None:
    """Why this session may not re-enable ``passkey`` now, or None.

    The session must have signed in (or confirmed it is its user) after the passkey was
    disabled, which a disabled passkey cannot do: a session the copy opened before cannot
    switch it back on. The rule for adding and removing passkeys applies too (second factor,
    a recent sign-in)."""
    try:
        _require_recent_authentication(request)
    except PasskeyError as error:
        return error
    if passkey.disabled_at is not None and not session_authenticated_since(
        request, passkey.disabled_at
    ):
        return PasskeyError(
            "reauthentication_required",
            _("Sign in again another way before re-enabling this passkey."),
            status=403,
        )
    return None


@transaction.atomic
def passkey_reenable(*, request: HttpRequest, user: AbstractBaseUser, passkey_id: int) -> Passkey:
    """Re-enable one of ``user``'s disabled passkeys (its owner says no copy exists).

    Needs a sign-in by another method since it was disabled (``passkey_reenable_refusal``).
    LookupError when the passkey is not theirs."""
    passkey = (
        Passkey.objects.select_for_update()
        .select_related("user")
        .filter(user=user, pk=passkey_id)
        .first()
    )
    if passkey is None:
        raise LookupError(passkey_id)
    if not passkey.is_disabled:
        return passkey
    refusal = passkey_reenable_refusal(request, passkey)
    if refusal is not None:
        raise refusal
    passkey.disabled_at, passkey.disabled_reason = None, ""
    passkey.save(update_fields=["disabled_at", "disabled_reason"])
    passkey_reenabled.send(sender=Passkey, request=request, user=user, passkey=passkey)
    return passkey


# --- management --------------------------------------------------------------------------------


def passkey_rename(*, user: AbstractBaseUser, passkey_id: int, name: str) -> Passkey:
    """Rename one of ``user``'s passkeys (LookupError when it is not theirs)."""
    passkey = Passkey.objects.filter(user=user, pk=passkey_id).first()
    if passkey is None:
        raise LookupError(passkey_id)
    name = (name or "").strip()[:NAME_MAX_LENGTH]
    if not name:
        raise PasskeyError("invalid_name", _("Give the passkey a name."))
    passkey.name = name
    passkey.save(update_fields=["name"])
    return passkey


@transaction.atomic
def passkey_remove(*, request: HttpRequest, user: AbstractBaseUser, passkey_id: int) -> Passkey:
    """Remove one of ``user``'s passkeys.

    Needs a recent sign-in, and is refused when the passkey is the user's last way in (no
    usable password and no other passkey). LookupError when the passkey is not theirs. The
    owner is told by email (mfa.notices), then ``signals.passkey_removed`` is sent.
    """
    passkey = (
        Passkey.objects.select_for_update()
        .select_related("user")
        .filter(user=user, pk=passkey_id)
        .first()
    )
    if passkey is None:
        raise LookupError(passkey_id)
    _require_recent_authentication(request)
    if passkey_is_last_way_in(passkey):
        raise PasskeyError(
            "last_way_in",
            _(
                "This is the only way you can sign in: set a password or add another passkey "
                "before removing it."
            ),
        )
    passkey.delete()
    security_notice_send(
        request=request,
        user=user,
        notice="passkey_removed",
        manage_url_name="passkeys:manage",
        context={"passkey_name": passkey.name},
    )
    passkey_removed.send(sender=Passkey, request=request, user=user, passkey=passkey)
    return passkey


def session_confirm_password(
    *, request: HttpRequest, user: AbstractBaseUser, password: str
) -> AuthState:
    """Re-authentication before a sensitive change, with the password
    (sessions_ctx.services.reauthentication): it is an authentication, so the session's
    authentication time moves to now (OIDC Core 2 auth_time) and adding or removing a
    passkey is open for ``CIAM_PASSKEYS_RECENT_AUTHENTICATION_SECONDS``.

    Wrong passwords count against the re-authentication budget (per user and per address)
    and against this client address's passkey failures.
    """
    try:
        outcome = session_reauthenticate(
            request=request,
            check=lambda: reauthentication_password_check(user=user, password=password),
            also=[failure_limit(request)],
        )
    except ReauthenticationThrottled as error:
        raise _too_many_attempts(error.retry_after) from error
    if outcome.state is None:
        raise PasskeyError("wrong_password", _("That password is not correct."))
    return outcome.state


def passkey_offer_dismiss(*, user: AbstractBaseUser) -> None:
    """Remember that ``user`` declined the offer to create a passkey."""
    PasskeyOfferDismissal.objects.get_or_create(user=user)
