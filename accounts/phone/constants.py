"""Names owned by the mobile number change: session and cache keys, code length."""

from __future__ import annotations

# The change in progress, one per session: {"user": user pk, "phone": E.164, "digest": the
# code's HMAC (never the code), "expires": epoch, "attempts": wrong codes so far}.
SESSION_KEY_PHONE_CHANGE = "ciam.phone.change"

# Codes sent per account and per number (Django cache, sessions_ctx.throttle counters) and
# the pause between two codes of one change.
CACHE_PREFIX_SENDS = "ciam.phone.sends"
CACHE_PREFIX_RESEND = "ciam.phone.resend"

# The claim that names the profile field holding the mobile number (OIDC Core 5.1).
PHONE_CLAIM = "phone_number"

CODE_DIGITS = 6
