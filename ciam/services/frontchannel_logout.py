"""OpenID Connect Front-Channel Logout 1.0: the pages of the clients of an ended session,
loaded in hidden frames by the page the browser sees after signing out.

When a browser session ends, every client that registered a ``frontchannel_logout_uri``
and had an authorization in that session (an AuthorizationContext with its ``sid``) has its
URI rendered in an ``<iframe>`` (section 3), with ``iss`` and ``sid`` added when it set
``frontchannel_logout_session_required`` (section 2). The list is computed while the
session still names its sid: either by the end-session view before it signs the browser
out, or by a ``session_ended`` receiver that keeps it in the fresh session for the
logged-out page (``frontchannel_logout_remember`` / ``frontchannel_logout_pending_pop``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from ..models import AuthorizationContext

SESSION_KEY_FRONTCHANNEL_LOGOUT = "ciam.frontchannel_logout"
# The logged-out page that follows a sign-out shows the frames only this long after it.
PENDING_LIFETIME_SECONDS = 300


@dataclass(frozen=True)
class FrontchannelLogoutFrame:
    """One client page to load in a hidden frame, and the origin the frame needs."""

    url: str
    origin: str


def frontchannel_logout_url(*, uri: str, session_required: bool, sid: str) -> str:
    """The URI to load for a client: ``iss`` and ``sid`` appended to its own query when it
    asked for them (section 2: the OP MUST add them when session_required is true)."""
    if not session_required:
        return uri
    parts = urlsplit(uri)
    query = [
        *parse_qsl(parts.query, keep_blank_values=True),
        ("iss", str(oauth2_settings.OIDC_ISS_ENDPOINT)),
        ("sid", sid),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def frontchannel_logout_frames(*, sid: str, user_id: str) -> list[FrontchannelLogoutFrame]:
    """The frames owed for session ``sid`` of user ``user_id``: one per client with a
    front-channel logout URI that was authorized in that session, by client name."""
    if not sid or not user_id:
        return []
    application_ids = AuthorizationContext.objects.filter(sid=sid, user_id=user_id).values(
        "application_id"
    )
    clients = (
        get_application_model()
        .objects.filter(pk__in=application_ids)
        .exclude(frontchannel_logout_uri="")
        .order_by("name", "pk")
    )
    frames = []
    for client in clients:
        url = frontchannel_logout_url(
            uri=client.frontchannel_logout_uri,
            session_required=client.frontchannel_logout_session_required,
            sid=sid,
        )
        frames.append(FrontchannelLogoutFrame(url=url, origin=_origin_of(url)))
    return frames


def frontchannel_logout_remember(*, request: HttpRequest, sid: str, user_id: str) -> None:
    """Keep the frames of the session that just ended in the browser's fresh session (after
    ``logout()`` ``request.session`` is new and empty), for the logged-out page to show."""
    frames = frontchannel_logout_frames(sid=sid, user_id=user_id)
    if frames:
        request.session[SESSION_KEY_FRONTCHANNEL_LOGOUT] = {
            "at": int(time.time()),
            "urls": [frame.url for frame in frames],
        }


def frontchannel_logout_pending_pop(*, request: HttpRequest) -> list[FrontchannelLogoutFrame]:
    """The frames remembered by ``frontchannel_logout_remember``, once: they are removed from
    the session. Nothing when they are older than PENDING_LIFETIME_SECONDS or malformed."""
    pending = request.session.pop(SESSION_KEY_FRONTCHANNEL_LOGOUT, None)
    if not isinstance(pending, dict):
        return []
    at = pending.get("at")
    urls = pending.get("urls")
    if not isinstance(at, int) or not isinstance(urls, list):
        return []
    if time.time() - at > PENDING_LIFETIME_SECONDS:
        return []
    return [
        FrontchannelLogoutFrame(url=url, origin=_origin_of(url))
        for url in urls
        if isinstance(url, str) and url.startswith(("https://", "http://"))
    ]


def frame_src_policy(*, frames: list[FrontchannelLogoutFrame]) -> str:
    """The CSP ``frame-src`` directive that lets the page frame exactly those origins."""
    origins = sorted({frame.origin for frame in frames})
    return " ".join(["frame-src", "'self'", *origins])
