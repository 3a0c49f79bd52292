"""Password sign-in throttle: wrong passwords per (account, client address) pair and per
client address, with exponential back-off.

allauth's own limits, which this replaces, counted every sign-in attempt per address (30 a
minute: the 31st customer behind one carrier-grade NAT was refused) and wrong passwords per
account alone (5 in 5 minutes locked the account's password sign-in for everyone, and so
anyone knowing an email address could lock its customer out). Here, with the options of
``app_settings.SignInSettings`` (CIAM_SIGNIN_*):

- every password check is admitted first (``password_attempt_admit``) and counted, before
  the password is checked, on two back-offs (throttle.Backoff): one for the pair of the
  account, named by the email address as typed in its normal form (throttle.email_normal_form:
  no case, Unicode or trailing-dot spelling gets a count of its own), and the client address
  (throttle.address_subject: the trusted proxy count applies, an IPv6 client is its /64,
  the Host header plays no part); one for the client address alone. Past a counter's free
  attempts the next attempt waits, twice as long after each (PasswordAttemptRefused; the
  sign-in page answers HTTP 429 with Retry-After);
- a right password (``password_attempt_succeeded``) forgets the pair's count and takes the
  attempt back from the address's: successful sign-ins are not limited (unless
  CIAM_SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE, off by default, caps every attempt);
- nothing is counted per account alone: from any other address the customer is not held
  by what an attacker did, and other sign-in methods (emailed code, passkey) have counters
  of their own. The account's failures still reach the risk engine (services.sessions,
  assessor failed_attempts), which may ask a later sign-in for a second step.
"""

from __future__ import annotations

from django.http import HttpRequest

from .. import throttle
from ..app_settings import signin_settings
from ..constants import (
    CACHE_PREFIX_SIGN_IN_ATTEMPTS_ADDRESS,
    CACHE_PREFIX_SIGN_IN_FAILURES_ADDRESS,
    CACHE_PREFIX_SIGN_IN_FAILURES_PAIR,
)
from ..throttle import Backoff, BackoffAttempt, Limit

ATTEMPTS_WINDOW = 60


class PasswordAttemptRefused(Exception):
    """Too many wrong passwords: nothing was checked; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _pair_counter(request: HttpRequest, identifier: str) -> str:
    subject = f"{throttle.address_subject(request)}:email:{throttle.email_digest(identifier)}"
    return throttle.counter(CACHE_PREFIX_SIGN_IN_FAILURES_PAIR, subject)


def password_attempt_backoffs(*, request: HttpRequest, identifier: str) -> list[Backoff]:
    """The back-offs a password sign-in for ``identifier`` (an email address as typed) from
    this request's client address goes through: its pair's and its address's."""
    base, cap = signin_settings.BACKOFF_SECONDS, signin_settings.BACKOFF_MAX_SECONDS
    backoffs = []
    pair_free = signin_settings.FAILURES_PER_ACCOUNT_AND_ADDRESS
    if pair_free > 0 and identifier:
        window = signin_settings.ACCOUNT_AND_ADDRESS_WINDOW_SECONDS
        backoffs.append(Backoff(_pair_counter(request, identifier), pair_free, window, base, cap))
    address_free = signin_settings.FAILURES_PER_ADDRESS
    if address_free > 0:
        counter = throttle.address_counter(CACHE_PREFIX_SIGN_IN_FAILURES_ADDRESS, request)
        window = signin_settings.ADDRESS_WINDOW_SECONDS
        backoffs.append(Backoff(counter, address_free, window, base, cap))
    return backoffs


def _attempts_limit(request: HttpRequest) -> Limit | None:
    limit = signin_settings.ATTEMPTS_PER_ADDRESS_PER_MINUTE
    if limit <= 0:
        return None
    counter = throttle.address_counter(CACHE_PREFIX_SIGN_IN_ATTEMPTS_ADDRESS, request)
    return Limit(counter, limit, ATTEMPTS_WINDOW)


def password_attempt_retry_after(*, request: HttpRequest, identifier: str) -> int:
    """Seconds before a password sign-in for ``identifier`` from this address is admitted
    again (0: now)."""
    wait = throttle.backoff_remaining(
        password_attempt_backoffs(request=request, identifier=identifier)
    )
    attempts = _attempts_limit(request)
    if attempts is not None:
        wait = max(wait, throttle.retry_after([attempts]))
    return wait


def password_attempt_admit(*, request: HttpRequest, identifier: str) -> BackoffAttempt:
    """Admit the password check about to be made for ``identifier`` (an email address as
    typed), counted as a wrong password until ``password_attempt_succeeded`` says otherwise.

    Raises PasswordAttemptRefused, before anything is checked, while a back-off of the pair
    or of the address runs (or the per-minute attempts are spent). Counting first means
    concurrent attempts cannot all pass the check before any of them has failed."""
    attempts = _attempts_limit(request)
    if (
        attempts is not None
        and throttle.hit(attempts.counter, window=attempts.window) > attempts.limit
    ):
        raise PasswordAttemptRefused(throttle.retry_after([attempts]))
    attempt, wait = throttle.backoff_admit(
        password_attempt_backoffs(request=request, identifier=identifier)
    )
    if attempt is None:
        raise PasswordAttemptRefused(wait)
    return attempt


def password_attempt_succeeded(
    *, request: HttpRequest, identifier: str, attempt: BackoffAttempt
) -> None:
    """The admitted password was right: the attempt is taken back, and the pair's count
    forgotten (the right password came from that address; the address's own count is only
    ever lowered by the attempts that succeeded, so interleaved sign-ins to an account one
    owns do not reset it)."""
    throttle.backoff_forgive(attempt)
    if identifier:
        throttle.clear(_pair_counter(request, identifier))
