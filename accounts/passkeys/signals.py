"""Domain events of the passkeys package (Signal definitions only)."""

from __future__ import annotations

from django.dispatch import Signal

# A passkey was added. Arguments: request, user, passkey.
passkey_registered = Signal()

# A passkey was removed. Arguments: request, user, passkey (deleted; its fields still readable).
passkey_removed = Signal()

# Someone signed in with a passkey. Arguments: request, user, passkey.
passkey_used = Signal()

# A passkey was disabled (a copy of it may exist). Arguments: request, user, passkey.
passkey_disabled = Signal()

# Its owner re-enabled a disabled passkey. Arguments: request, user, passkey.
passkey_reenabled = Signal()
