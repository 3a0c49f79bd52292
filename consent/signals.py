"""Domain signals of consent (definitions only; sent last by the services)."""

from __future__ import annotations

from django.dispatch import Signal

# A user granted (or widened) a client's consent. Arguments: user, application, consent.
consent_granted = Signal()

# A user's consent for a client was withdrawn and its tokens revoked.
# Arguments: user, application, consent.
consent_revoked = Signal()

# A user's decision about a purpose (terms, privacy notice, marketing...) was appended to the
# consent ledger. Arguments: user, record (consent.models.ConsentRecord).
purpose_consent_changed = Signal()
