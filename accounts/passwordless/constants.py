"""Names owned by email sign-in: session keys, cache keys, amr, sizes.

Social login's own live in accounts/social/constants.py."""

from __future__ import annotations

# A random value kept in the browser's session. Every emailed link records its hash, so that
# the link signs in only the browser that asked for it (no login CSRF by a forwarded link).
SESSION_KEY_BROWSER_NONCE = "ciam.passwordless.browser"
# The email sign-in the code page is about (an EmailSignIn primary key).
SESSION_KEY_CURRENT = "ciam.passwordless.current"

# Rate-limit counters (Django cache).
CACHE_PREFIX = "ciam.passwordless"

# RFC 8176: the emailed code or link is a one-time password delivered by email.
AMR_EMAIL = "otp"
# allauth's name for the method in its authentication records (sessions_ctx maps it to "otp").
ALLAUTH_METHOD = "code"

CODE_DIGITS = 6
# Shown in the tab that asked; typed on another device to confirm there (number matching).
MATCH_NUMBER_MIN = 10
MATCH_NUMBER_MAX = 99
