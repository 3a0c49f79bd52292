"""The ``consents`` claim: a user's purpose decisions, as one client may see them.

Listed in ``CIAM_CLAIM_PROVIDERS``; ciam/oauth/claim_sources.py calls ``consents_claim`` for ID
tokens and UserInfo only when the ``consents`` scope was granted, and on every call, so a
withdrawal shows in the client's next ID token (refresh) or UserInfo answer.
"""

from __future__ import annotations

from typing import Any

from .models import GRANTING_ACTIONS
from .selectors import latest_records

CONSENTS_SCOPE = "consents"
CONSENTS_CLAIM = "consents"


def client_purpose_decisions(*, user: Any, application: Any) -> dict[str, dict[str, Any]]:
    """``{purpose_key: {"granted": bool, "version": n, "at": epoch seconds}}``: the latest
    decision of ``user`` about each active purpose ``application`` may see (the purposes
    linked to it, ``ClientPurpose``, and the ``required`` ones that apply to every client).

    One query (consent/selectors.py ``latest_records``). Purposes never decided are absent.
    """
    rows = (
        latest_records(user=user, application=application)
        .filter(purpose__active=True)
        .order_by("purpose__key")
        .values_list("purpose__key", "version__number", "action", "at")
    )
    return {
        key: {"granted": action in GRANTING_ACTIONS, "version": number, "at": int(at.timestamp())}
        for key, number, action, at in rows
    }


def consents_claim(user: Any, application: Any, scopes: frozenset[str]) -> dict[str, Any]:
    """The ``consents`` claim for ``application`` (a ``CIAM_CLAIM_PROVIDERS`` function).

    An object even when the user decided nothing yet (``{}``): the client can tell "no
    decisions" from "scope not granted", where the claim is absent.
    """
    if CONSENTS_SCOPE not in scopes:
        return {}
    return {CONSENTS_CLAIM: client_purpose_decisions(user=user, application=application)}
