"""Domain signals of the data subject rights (definitions only; sent last by the services)."""

from __future__ import annotations

from django.dispatch import Signal

# A customer asked for their account to be deleted; it will be erased at ``erasure.due_at``
# unless they sign in before. Arguments: user, erasure (ErasureRequest).
erasure_requested = Signal()

# A pending deletion was cancelled (the customer signed in again). Arguments: user, erasure.
erasure_cancelled = Signal()

# An account was erased (accounts.privacy.services.account_erase): relying parties that
# knew it should forget it too. Sent after the transaction committed. Arguments: user_id
# (str, the primary key the user had), subject (str, the user's public ``sub``), clients
# (list of the client_ids that had tokens, codes or consents of the user), subjects (dict:
# client_id -> the ``sub`` that client knew; pairwise clients each knew their own).
account_erased = Signal()
