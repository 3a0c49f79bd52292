"""acr policy: what an authorization request demands, what a session has, what is missing.

The vocabulary (acr values and their order, amr to acr) is in ``constants`` and
``strength``; here are the decisions, as functions of plain values, so that any caller
(the interaction pipeline's steps, account pages) asks the same questions without this app
knowing the pending request's class or the client model:

1. ``client_acr_requirement``: a client may demand an authentication level by
   - ``acr_values`` (OIDC Core 3.1.2.1): the weakest value this provider knows is the
     demand (any listed value is acceptable); unknown values alone demand nothing;
   - an essential ``acr`` claim in the id_token member of the ``claims`` parameter, with
     ``values`` or ``value`` (OIDC Core 5.5.1.1): the weakest known value; when none is
     known the demand cannot be met (a failed authentication, OIDC Core 5.5.1.1), which is
     ``UNSUPPORTED_ACR``;
   - the client's registered minimum (``min_acr``).
   The strongest of these is the demand.
2. ``acr_shortfall``: whether a session (its amr and acr) meets a demand, and if not, what
   kind of authentication would: one more possession factor (a one-time code after a
   password), another first factor (a code adds nothing to an emailed code or another
   provider), or a passkey ("phr", "phrh": phishing-resistant, OpenID EAP ACR Values 1.0).
3. ``session_second_factor_missing``: the session has not proven a second factor its user
   set up, as answered by the checks named in ``CIAM_SESSIONS_SECOND_FACTOR_CHECKS`` (the
   sign-in methods own their factors; this app only asks them).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence

from django.http import HttpRequest
from django.utils.module_loading import import_string

from .app_settings import app_settings
from .constants import (
    ACR_PHISHING_RESISTANT,
    ACR_PHISHING_RESISTANT_HARDWARE,
    ACR_RANK,
    ACR_TWO_FACTORS,
)
from .strength import acr_for_amr, acr_satisfies, weakest_acceptable

# A client's essential acr that names no level this provider knows (OIDC Core 5.5.1.1).
UNSUPPORTED_ACR = "unsupported"

# Levels only a passkey sign-in reaches.
PASSKEY_LEVELS = frozenset({ACR_PHISHING_RESISTANT, ACR_PHISHING_RESISTANT_HARDWARE})

# RFC 8176: the one-time password a second factor adds (TOTP or a recovery code).
AMR_ONE_TIME_CODE = "otp"

SecondFactorCheck = Callable[..., bool]


def client_acr_requirement(
    *,
    acr_values: Iterable[str],
    essential_acr: Iterable[str] | None,
    min_acr: str = "",
) -> str | None:
    """The acr a request demands (module docstring, rule 1): the strongest of the weakest
    known ``acr_values``, the weakest known essential acr value, and ``min_acr``; None when
    nothing is demanded, ``UNSUPPORTED_ACR`` when an essential acr names no known level.

    ``essential_acr`` is None without an essential acr claim; an empty list (essential,
    any value) demands nothing.
    """
    demands: list[str] = []
    requested = weakest_acceptable(acr_values)
    if requested is not None:
        demands.append(requested)
    essential = list(essential_acr or [])
    if essential:
        acceptable = weakest_acceptable(essential)
        if acceptable is None:
            return UNSUPPORTED_ACR
        demands.append(acceptable)
    if min_acr in ACR_RANK:
        demands.append(min_acr)
    return max(demands, key=ACR_RANK.__getitem__) if demands else None


class Shortfall(enum.Enum):
    """What a session lacks to meet a demand (module docstring, rule 2)."""

    NONE = "none"  # the demand is met (or there is none)
    UNSUPPORTED = "unsupported"  # an essential acr this provider does not offer
    PASSKEY = "passkey"  # "phr"/"phrh": only signing in with a passkey reaches it
    ONE_TIME_CODE = "one_time_code"  # a one-time code (possession factor) on top reaches it
    FIRST_FACTOR = "first_factor"  # a code adds no second kind of factor: sign in otherwise


def acr_shortfall(*, amr: Sequence[str], acr: str, demanded: str | None) -> Shortfall:
    """What the session with ``amr`` and ``acr`` lacks to meet ``demanded``."""
    if demanded == UNSUPPORTED_ACR:
        return Shortfall.UNSUPPORTED
    if demanded is None or acr_satisfies(acr, demanded):
        return Shortfall.NONE
    if demanded != ACR_TWO_FACTORS:  # "phr" or "phrh": above what any code reaches
        return Shortfall.PASSKEY
    if acr_satisfies(acr_for_amr([*amr, AMR_ONE_TIME_CODE]), demanded):
        return Shortfall.ONE_TIME_CODE
    return Shortfall.FIRST_FACTOR


def session_has_two_factors(*, acr: str) -> bool:
    """A session of acr "2" or more has proven two kinds of factor (or a passkey)."""
    return acr_satisfies(acr, ACR_TWO_FACTORS)


def _second_factor_checks() -> list[SecondFactorCheck]:
    return [import_string(path) for path in app_settings.SECOND_FACTOR_CHECKS]


def session_second_factor_missing(request: HttpRequest) -> bool:
    """True while the signed-in user has a second factor that this session has not proven
    (module docstring, rule 3). Computed on each call, never stored: a factor set up in
    another browser, or a remembered browser, counts at once."""
    return any(check(request=request) for check in _second_factor_checks())
