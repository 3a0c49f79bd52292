"""Names owned by the passkeys package: session keys, cookie, cache keys, amr values."""

from __future__ import annotations

# Pending ceremonies of each kind, a short list per session: {"challenge": base64url,
# "expires": epoch, plus "user_id" and "user_handle" for registration}. An entry is removed
# when a response answers it (single use).
SESSION_KEY_REGISTRATION = "ciam.passkeys.registration"
SESSION_KEY_AUTHENTICATION = "ciam.passkeys.authentication"

# Set by the sign-in page's script when the browser has a user-verifying platform
# authenticator (WebAuthn L3 5.1.7 isUserVerifyingPlatformAuthenticatorAvailable). Only such
# browsers are offered to create a passkey after signing in.
CAPABLE_COOKIE_NAME = "ciam_passkeys_capable"

# Failed sign-in counters per client address (Django cache).
CACHE_PREFIX_FAILURES = "ciam.passkeys.failures"

# RFC 8176: "hwk" proof of possession of a hardware-secured key (a device-bound passkey),
# "swk" of a software-secured key (a synced passkey, backed up by its provider), "user" the
# authenticator verified the user (PIN or biometric).
AMR_HARDWARE_KEY = "hwk"
AMR_SOFTWARE_KEY = "swk"
AMR_USER_PRESENCE_VERIFIED = "user"

# The WebAuthn user handle (user.id in the credential): random, no personal data
# (WebAuthn L3 14.6.1).
USER_HANDLE_BYTES = 32
