"""Names owned by email sign-in and social login: session keys, cache keys, amr, sizes."""

from __future__ import annotations

# A random value kept in the browser's session. Every emailed link records its hash, so that
# the link signs in only the browser that asked for it (no login CSRF by a forwarded link).
SESSION_KEY_BROWSER_NONCE = "ciam.passwordless.browser"
# The email sign-in the code page is about (an EmailSignIn primary key).
SESSION_KEY_CURRENT = "ciam.passwordless.current"
# A social sign-in whose verified email belongs to an existing account, waiting for the
# owner of that account to sign in and link it (see services.social_link_*).
SESSION_KEY_SOCIAL_LINK = "ciam.passwordless.social_link"

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

# How long a social sign-in waits for the owner of the matching account to prove it.
SOCIAL_LINK_SECONDS = 15 * 60
