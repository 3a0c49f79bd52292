"""Domain signals of consent (definitions only; sent last by the services)."""

from __future__ import annotations

from django.dispatch import Signal

# A user granted (or widened) a client's consent. Arguments: user, application, consent.
consent_granted = Signal()

# A user's consent for a client was withdrawn and its tokens revoked.
# Arguments: user, application, consent.
consent_revoked = Signal()
