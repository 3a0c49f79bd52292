"""Names owned by social login: session keys and how long a held sign-in waits."""

from __future__ import annotations

# A social sign-in whose verified email belongs to an existing account, waiting for the
# owner of that account to sign in and link it (see services.social_link_*). The value keeps
# its first name ("ciam.passwordless.") so that sessions stored before the move still work.
SESSION_KEY_SOCIAL_LINK = "ciam.passwordless.social_link"

# How long a social sign-in waits for the owner of the matching account to prove it.
SOCIAL_LINK_SECONDS = 15 * 60
