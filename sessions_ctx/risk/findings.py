"""Findings and their plain-language reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from ..models import CONFIDENCE_RANK, Confidence, FindingCode


@dataclass(frozen=True)
class Finding:
    code: str
    confidence: str
    params: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "confidence": self.confidence, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        params = data.get("params") or {}
        return cls(
            code=str(data.get("code", "")),
            confidence=str(data.get("confidence", Confidence.LOW)),
            params={str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {},
        )


def confidence_at_least(confidence: str, minimum: str) -> bool:
    rank: dict[str, int] = {str(key): value for key, value in CONFIDENCE_RANK.items()}
    return rank.get(confidence, 0) >= rank.get(minimum, 99)


def finding_reason(code: str, params: dict[str, str]) -> str:
    """Why the finding was made, in plain words (the account's security activity, the
    step-up page, the admin)."""
    device = params.get("device") or _("an unknown browser")
    place = params.get("place", "")
    if code == FindingCode.NEW_DEVICE:
        if place:
            return _("A sign-in from a new device (%(device)s) in %(place)s.") % {
                "device": device,
                "place": place,
            }
        return _("A sign-in from a new device (%(device)s).") % {"device": device}
    if code == FindingCode.NEW_NETWORK:
        return _("A sign-in from a network not used before (%(network)s).") % {
            "network": params.get("network", "")
        }
    if code == FindingCode.NEW_COUNTRY:
        return _("A sign-in from a country not seen before (%(country)s).") % {
            "country": params.get("country", "")
        }
    if code == FindingCode.NEW_ASN:
        return _("A sign-in through an internet provider not seen before (%(provider)s).") % {
            "provider": params.get("provider", "")
        }
    if code == FindingCode.IMPOSSIBLE_TRAVEL:
        return _(
            "A sign-in from %(place)s, %(distance)s km from the previous one in %(previous)s "
            "only %(minutes)s minutes earlier."
        ) % {
            "place": place,
            "distance": params.get("distance_km", "?"),
            "previous": params.get("previous_place", ""),
            "minutes": params.get("minutes", "?"),
        }
    if code == FindingCode.USER_AGENT_CHANGED:
        return _(
            "The session was used from another browser (%(device)s instead of %(previous)s): "
            "its cookie may have been copied."
        ) % {"device": device, "previous": params.get("previous_device", "")}
    if code == FindingCode.VELOCITY:
        return _("%(count)s sign-ins to the account within an hour.") % {
            "count": params.get("count", "?")
        }
    if code == FindingCode.FAILED_ATTEMPTS:
        return _("%(count)s wrong passwords before this sign-in.") % {
            "count": params.get("count", "?")
        }
    if code == FindingCode.BAD_ADDRESS:
        return _("The address %(ip)s is on a list of addresses used for attacks.") % {
            "ip": params.get("ip", "")
        }
    return str(code)
