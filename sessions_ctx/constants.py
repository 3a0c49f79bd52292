"""Session keys and authentication vocabulary owned by this app."""

from __future__ import annotations

# The authentication state of a browser session: who, when, how (see AuthState).
SESSION_KEY_AUTH = "ciam.auth"

# RFC 8176 Authentication Method Reference values, keyed by allauth's method names.
# The emailed one-time code is reported as "otp" (a one-time password sent by email).
AMR_BY_METHOD = {
    "password": "pwd",
    "password_reset": "pwd",
    "code": "otp",
    "socialaccount": "fed",
    "mfa": "otp",
}

# Authentication context class references (acr), weakest first:
# "1" one factor; "2" two factors; OpenID EAP ACR Values 1.0 "phr" phishing-resistant and
# "phrh" phishing-resistant with a hardware-protected key (passkeys).
ACR_ONE_FACTOR = "1"
ACR_TWO_FACTORS = "2"
ACR_PHISHING_RESISTANT = "phr"
ACR_PHISHING_RESISTANT_HARDWARE = "phrh"
ACR_VALUES_SUPPORTED = [
    ACR_ONE_FACTOR,
    ACR_TWO_FACTORS,
    ACR_PHISHING_RESISTANT,
    ACR_PHISHING_RESISTANT_HARDWARE,
]
ACR_RANK = {value: rank for rank, value in enumerate(ACR_VALUES_SUPPORTED, start=1)}

# RFC 8176: a password (the proof a re-authentication asks for most).
AMR_PASSWORD = "pwd"  # noqa: S105 - a method name, not a password

# Failed re-authentication counters (Django cache; see throttle.py and
# services/reauthentication.py).
CACHE_PREFIX_REAUTHENTICATION = "ciam.sessions.reauthentication"

# The device cookie (device.py): a signed random id recognising a returning browser.
DEVICE_COOKIE_NAME = "ciam_device"
DEVICE_COOKIE_SALT = "ciam.sessions.device"

# The session's context record (services/sessions.py): its BrowserSession id, fingerprint,
# last-seen time, absolute end, and the risk engine's state (risk/state.py).
SESSION_KEY_CONTEXT = "ciam.ctx"
SESSION_KEY_RISK = "ciam.risk"
# The "keep me signed in" choice made on the sign-in page, read when the sign-in completes.
SESSION_KEY_KEEP_SIGNED_IN = "ciam.keep"

# Failed password sign-ins per account, counted until the next success (risk assessor
# failed_attempts).
CACHE_PREFIX_FAILED_SIGN_INS = "ciam.sessions.failed_sign_ins"

# Password sign-in throttle (services/password_attempts.py): wrong passwords per (account,
# client address) pair and per client address, with exponential back-off; and, when
# CIAM_SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE is set, every password sign-in per address.
CACHE_PREFIX_SIGN_IN_FAILURES_PAIR = "ciam.sessions.sign_in_failures.pair"
CACHE_PREFIX_SIGN_IN_FAILURES_ADDRESS = "ciam.sessions.sign_in_failures.address"
CACHE_PREFIX_SIGN_IN_ATTEMPTS_ADDRESS = "ciam.sessions.sign_in_attempts.address"
