"""The catalogue of domain events: every type the outbox accepts, with its version.

A type's key names what happened (``user.signed_in``); its CloudEvents ``type`` attribute is
``com.ciam.<key>.v<version>`` (CloudEvents 1.0 3.1.1: reverse-DNS prefixed, and a changed
shape of ``data`` is a new version, so receivers match the exact string they understand).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

CLOUDEVENTS_TYPE_PREFIX = "com.ciam."


@dataclass(frozen=True)
class EventType:
    """One event type: key, version of its data, label and description (both translated)."""

    key: str
    version: int
    label: Any
    description: Any

    @property
    def cloudevents_type(self) -> str:
        return cloudevents_type(self.key, self.version)


def cloudevents_type(key: str, version: int) -> str:
    """The CloudEvents ``type`` of an event: ``com.ciam.user.signed_in.v1``."""
    return f"{CLOUDEVENTS_TYPE_PREFIX}{key}.v{version}"


def _types(*types: EventType) -> dict[str, EventType]:
    return {event_type.key: event_type for event_type in types}


EVENT_TYPES: dict[str, EventType] = _types(
    EventType(
        "user.created",
        1,
        _("User created"),
        _("A customer account was created (sign-up, social sign-in, import or operator)."),
    ),
    EventType(
        "user.verified",
        1,
        _("User verified"),
        _("The customer proved control of an email address."),
    ),
    EventType(
        "user.updated",
        1,
        _("User updated"),
        _("Profile values changed; each value is sent only under its scope and purpose."),
    ),
    EventType(
        "user.deleted",
        1,
        _("User deleted"),
        _("The customer's account was erased."),
    ),
    EventType(
        "user.disabled",
        1,
        _("User disabled"),
        _("An operator disabled the account: it can no longer sign in."),
    ),
    EventType(
        "user.enabled",
        1,
        _("User enabled"),
        _("An operator enabled the account again."),
    ),
    EventType(
        "user.signed_in",
        1,
        _("User signed in"),
        _("A sign-in completed: method, amr, acr and the risk decision."),
    ),
    EventType(
        "user.signed_out",
        1,
        _("User signed out"),
        _("The customer signed out of a browser session."),
    ),
    EventType(
        "session.revoked",
        1,
        _("Session revoked"),
        _("A session was ended from elsewhere: by the customer, an operator or the policy."),
    ),
    EventType(
        "consent.granted",
        1,
        _("Consent granted"),
        _("The customer granted a consent purpose (key, version, channel, client)."),
    ),
    EventType(
        "consent.withdrawn",
        1,
        _("Consent withdrawn"),
        _("The customer withdrew a consent purpose (key, version, channel, client)."),
    ),
    EventType(
        "client.authorized",
        1,
        _("Client authorized"),
        _("The customer authorized an application (client ID, scopes)."),
    ),
    EventType(
        "client.revoked",
        1,
        _("Client revoked"),
        _("The customer's authorization of an application was revoked."),
    ),
    EventType(
        "profile.field_collected",
        1,
        _("Profile field collected"),
        _("A profile field was answered (field key, source), sent under its purpose."),
    ),
    EventType(
        "credential.added",
        1,
        _("Credential added"),
        _("A passkey or a second factor was added."),
    ),
    EventType(
        "credential.removed",
        1,
        _("Credential removed"),
        _("A passkey or a second factor was removed or disabled."),
    ),
    EventType(
        "credential.changed",
        1,
        _("Credential changed"),
        _("A password, passkey, authenticator app or recovery codes changed."),
    ),
    EventType(
        "credential.compromised",
        1,
        _("Credential compromised"),
        _("An operator declared the password compromised: signed out, reset required."),
    ),
    EventType(
        "risk.challenged",
        1,
        _("Risk challenge"),
        _("The risk engine asked for a step-up, ended or blocked a session (findings)."),
    ),
    EventType(
        "assurance.changed",
        1,
        _("Assurance changed"),
        _("A session's authentication level (acr) changed, e.g. by a step-up."),
    ),
    EventType(
        "interaction.recorded",
        1,
        _("Interaction recorded"),
        _("An interaction from another channel was recorded (type, channel, purpose)."),
    ),
    EventType(
        "personalization.interests_changed",
        1,
        _("Interests changed"),
        _(
            "The interests shared about a customer changed (inferred by training or edited "
            "by the customer); sent only under their personalization purpose."
        ),
    ),
    EventType(
        "segment.entered",
        1,
        _("Segment entered"),
        _("A customer now meets the conditions of an operator's segment."),
    ),
    EventType(
        "segment.left",
        1,
        _("Segment left"),
        _("A customer no longer meets the conditions of an operator's segment."),
    ),
)


def event_type(key: str) -> EventType:
    """The catalogue entry of ``key``; ``ValueError`` for an unknown one."""
    try:
        return EVENT_TYPES[key]
    except KeyError:
        raise ValueError(f"Unknown event type {key!r}") from None


def event_types_matching(patterns: Iterable[str]) -> set[str]:
    """Catalogue keys that ``patterns`` select: "*" (all), "user.*" (a family), exact keys.
    Unknown exact keys select nothing."""
    keys: set[str] = set()
    for pattern in patterns:
        pattern = str(pattern).strip()
        if not pattern:
            continue
        if pattern in EVENT_TYPES:
            keys.add(pattern)
        elif "*" in pattern:
            keys.update(key for key in EVENT_TYPES if fnmatch.fnmatchcase(key, pattern))
    return keys
