"""Re-authentication: "confirm it's you" before a sensitive change.

Pages that change how an account signs in (turning two-step verification off, new recovery
codes, adding or removing a passkey) first ask the signed-in user for a proof: the
password, or whatever the calling page can check (a current code from the authenticator
app). One semantics for every page:

- A re-authentication is an authentication (OIDC Core 2: auth_time is "the time when the
  End-User authentication occurred"). On success the session's ``auth_time`` moves to now
  and the proven method joins its amr (acr recomputed, sid kept; see
  services.authentication.session_add_factor). So a client's ``max_age`` (OIDC Core
  3.1.2.1), the passkeys' and the second factor's "recent sign-in" windows all see it.
- One failure budget, counted per user and per client address:
  ``CIAM_SESSIONS_REAUTHENTICATION_MAX_FAILURES`` wrong proofs within
  ``CIAM_SESSIONS_REAUTHENTICATION_WINDOW_SECONDS``, whichever page they were made on; past
  it, every attempt is refused unchecked until the window ends. A calling page may add its
  own method's limits (``also``): the same wrong code is also a wrong code of the second
  factor. A success restarts the user's count, not the address's.

This app checks no proof it does not own: the caller passes a function that checks it
(``reauthentication_password_check`` for the password, which Django owns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from .. import throttle
from ..app_settings import app_settings
from ..constants import AMR_PASSWORD, CACHE_PREFIX_REAUTHENTICATION
from ..selectors import AuthState, session_auth_state
from ..throttle import Limit
from .authentication import session_add_factor, session_record_authentication

DetailT = TypeVar("DetailT")


@dataclass(frozen=True)
class ReauthenticationProof(Generic[DetailT]):
    """What the caller checked: whether it holds, the RFC 8176 methods it proves (``pwd``,
    ``otp``), and the caller's own detail of the check (for its message)."""

    ok: bool
    methods: tuple[str, ...]
    detail: DetailT


@dataclass(frozen=True)
class Reauthentication(Generic[DetailT]):
    """The outcome: the checked proof, and the session's new state when it held."""

    proof: ReauthenticationProof[DetailT]
    state: AuthState | None

    @property
    def ok(self) -> bool:
        return self.proof.ok


class ReauthenticationThrottled(Exception):
    """Too many failed re-authentications: nothing was checked; try in ``retry_after``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def reauthentication_limits(request: HttpRequest) -> list[Limit]:
    """The failure budget: one counter per client address and one per signed-in user."""
    limit = app_settings.REAUTHENTICATION_MAX_FAILURES
    window = app_settings.REAUTHENTICATION_WINDOW_SECONDS
    limits = [
        Limit(throttle.address_counter(CACHE_PREFIX_REAUTHENTICATION, request), limit, window)
    ]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        limits.append(
            Limit(throttle.user_counter(CACHE_PREFIX_REAUTHENTICATION, user.pk), limit, window)
        )
    return limits


def reauthentication_retry_after(*, request: HttpRequest, also: Sequence[Limit] = ()) -> int:
    """Seconds until a re-authentication may be tried again (0: now), counting the
    caller's own ``also`` limits too."""
    return throttle.retry_after([*reauthentication_limits(request), *also])


def reauthentication_password_check(
    *, user: AbstractBaseUser, password: str
) -> ReauthenticationProof[None]:
    """The password as a proof (amr ``pwd``); an account without a usable password has
    none to give."""
    ok = bool(password) and user.has_usable_password() and user.check_password(password)
    return ReauthenticationProof(ok=ok, methods=(AMR_PASSWORD,), detail=None)


def session_reauthenticate(
    *,
    request: HttpRequest,
    check: Callable[[], ReauthenticationProof[DetailT]],
    also: Sequence[Limit] = (),
) -> Reauthentication[DetailT]:
    """Re-authenticate the signed-in user of ``request`` with the proof ``check`` returns
    (module docstring).

    Raises ReauthenticationThrottled, before calling ``check``, while the budget (or one of
    the caller's ``also`` limits) is spent; LookupError when nobody is signed in. A failed
    proof is counted against the budget and ``also``; a proof that holds moves the
    session's authentication to now with its methods.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise LookupError("No signed-in user to re-authenticate.")
    limits = reauthentication_limits(request)
    wait = throttle.retry_after([*limits, *also])
    if wait:
        raise ReauthenticationThrottled(wait)
    proof = check()
    if not proof.ok:
        throttle.hit_all([*limits, *also])
        return Reauthentication(proof=proof, state=None)
    throttle.clear(throttle.user_counter(CACHE_PREFIX_REAUTHENTICATION, user.pk))
    if session_auth_state(request) is None:
        # Signed in before this session kept a state (or the state is another user's): the
        # proof is this user's authentication now.
        state = session_record_authentication(
            request=request, user_id=str(user.pk), methods=proof.methods
        )
    else:
        state = session_add_factor(request=request, methods=proof.methods)
    return Reauthentication(proof=proof, state=state)
