"""What the risk engine remembers of a user: read once per evaluation (two queries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from ..models import BrowserSession, UserDevice

HISTORY_SESSIONS = 50


@dataclass(frozen=True)
class LastPlace:
    label: str
    latitude: float
    longitude: float
    at: datetime


@dataclass(frozen=True)
class History:
    """The user's confirmed sessions (newest first, at most HISTORY_SESSIONS) summarised.

    ``has_history`` is False for a user's very first sign-in: nothing is "new" then.
    """

    user_id: str
    has_history: bool = False
    known_device: bool = False
    networks: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    asns: frozenset[int] = frozenset()
    last_place: LastPlace | None = None
    sign_ins_last_hour: int = 0
    failed_attempts: int = 0
    # For a context change inside one session: how the session looked at sign-in.
    session_browser: str = ""
    session_os: str = ""


def user_history(
    *,
    user_id: str,
    device_id: str,
    exclude_session_id: int | None = None,
    failed_attempts: int = 0,
    session_browser: str = "",
    session_os: str = "",
) -> History:
    sessions = BrowserSession.objects.filter(user_id=user_id)
    if exclude_session_id is not None:
        sessions = sessions.exclude(pk=exclude_session_id)
    rows = list(
        sessions.order_by("-created_at").values_list(
            "confirmed",
            "network",
            "country",
            "asn",
            "city",
            "latitude",
            "longitude",
            "created_at",
        )[:HISTORY_SESSIONS]
    )
    hour_ago = timezone.now() - timedelta(hours=1)
    confirmed = [row for row in rows if row[0]]
    last_place = None
    for row in confirmed:
        if row[5] is not None and row[6] is not None:
            label = ", ".join(part for part in (row[4], row[2]) if part)
            last_place = LastPlace(label, row[5], row[6], row[7])
            break
    known_device = (
        bool(device_id) and UserDevice.objects.filter(user_id=user_id, device_id=device_id).exists()
    )
    return History(
        user_id=user_id,
        has_history=bool(confirmed),
        known_device=known_device,
        networks=frozenset(row[1] for row in confirmed if row[1]),
        countries=frozenset(row[2] for row in confirmed if row[2]),
        asns=frozenset(row[3] for row in confirmed if row[3] is not None),
        last_place=last_place,
        sign_ins_last_hour=sum(1 for row in rows if row[7] >= hour_ago),
        failed_attempts=failed_attempts,
        session_browser=session_browser,
        session_os=session_os,
    )
