"""The words the monitor's script shows, in the operator's language (the page carries them
as JSON: the script never builds text of its own beyond numbers)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


def _method_labels() -> dict[str, str]:
    return {
        "password": _("Password"),
        "email_code": _("Email code or link"),
        "passkey": _("Passkey"),
        "social": _("Social login"),
        "other": _("Other"),
    }


def monitor_labels() -> dict[str, Any]:
    """Event type labels (the catalogue's), sign-in methods and the page's states."""
    from events.catalogue import EVENT_TYPES

    return {
        "types": {key: str(entry.label) for key, entry in EVENT_TYPES.items()},
        "methods": _method_labels(),
        "socialPrefix": _("Social login"),
        "states": {
            "connecting": _("Connecting…"),
            "live": _("Live"),
            "reconnecting": _("Reconnecting…"),
            "forbidden": _("Not allowed: sign in again"),
        },
        "unavailable": _("n/a"),
        "empty": _("No event yet: new events appear here as they happen."),
        "method": _("Method"),
        "customer": _("Customer"),
        "kind": _("Kind"),
        "field": _("Field"),
        "total": _("Total"),
    }
