"""The SET event types this transmitter sends and the outbox events they come from.

Event type URIs: CAEP 1.0 (https://schemas.openid.net/secevent/caep/event-type/...), RISC 1.0
(.../risc/event-type/...) and SSF 1.0 8.1.4 and 8.1.5 (.../ssf/event-type/verification and
stream-updated, sent on every stream whatever it requested).
"""

from __future__ import annotations

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"

SESSION_REVOKED = CAEP + "session-revoked"
SESSION_ESTABLISHED = CAEP + "session-established"
CREDENTIAL_CHANGE = CAEP + "credential-change"
ASSURANCE_LEVEL_CHANGE = CAEP + "assurance-level-change"
TOKEN_CLAIMS_CHANGE = CAEP + "token-claims-change"
ACCOUNT_DISABLED = RISC + "account-disabled"
ACCOUNT_ENABLED = RISC + "account-enabled"
ACCOUNT_PURGED = RISC + "account-purged"
CREDENTIAL_COMPROMISE = RISC + "credential-compromise"
VERIFICATION = SSF + "verification"
STREAM_UPDATED = SSF + "stream-updated"

# Outbox event type (events/catalogue.py) -> the SET event type it is sent as.
SET_EVENT_BY_OUTBOX_TYPE: dict[str, str] = {
    "session.revoked": SESSION_REVOKED,
    "user.signed_out": SESSION_REVOKED,
    "user.signed_in": SESSION_ESTABLISHED,
    "credential.added": CREDENTIAL_CHANGE,
    "credential.removed": CREDENTIAL_CHANGE,
    "credential.changed": CREDENTIAL_CHANGE,
    "assurance.changed": ASSURANCE_LEVEL_CHANGE,
    "user.updated": TOKEN_CLAIMS_CHANGE,
    "user.disabled": ACCOUNT_DISABLED,
    "user.enabled": ACCOUNT_ENABLED,
    "user.deleted": ACCOUNT_PURGED,
    "credential.compromised": CREDENTIAL_COMPROMISE,
}

# SSF 1.0 8.1.1 events_supported, in a stable order.
EVENTS_SUPPORTED: tuple[str, ...] = (
    SESSION_REVOKED,
    SESSION_ESTABLISHED,
    CREDENTIAL_CHANGE,
    ASSURANCE_LEVEL_CHANGE,
    TOKEN_CLAIMS_CHANGE,
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    ACCOUNT_PURGED,
    CREDENTIAL_COMPROMISE,
)


def events_delivered_for(requested: list[str]) -> list[str]:
    """SSF 1.0 8.1.1 events_delivered: the requested event types this transmitter supports,
    in the order requested (unknown ones ignored, as the Transmitter MUST)."""
    return [uri for uri in dict.fromkeys(requested) if uri in EVENTS_SUPPORTED]


def outbox_types_for(delivered: list[str]) -> list[str]:
    """The outbox event types that feed SET event types ``delivered``: the event types the
    stream's webhooks endpoint listens to (one delivery per event it may send)."""
    wanted = set(delivered)
    return sorted(key for key, uri in SET_EVENT_BY_OUTBOX_TYPE.items() if uri in wanted)
