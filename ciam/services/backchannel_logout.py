"""OpenID Connect Back-Channel Logout 1.0: logout tokens to the clients of an ended session.

When a browser session ends (sessions_ctx.signals.session_ended), every client that
registered a ``backchannel_logout_uri`` and had an authorization in that session (an
AuthorizationContext with its ``sid``) is owed a logout token (2.4). One
BackchannelLogoutDelivery row records each; the first attempt is made once the sign-out's
transaction commits, and failures are retried with backoff by
``manage.py deliver_backchannel_logouts`` (up to MAX_ATTEMPTS over about an hour).
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import requests
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from sessions_ctx.outbound import OutboundRefused, outbound_post

from ..keys import active_signing_key
from ..models import AuthorizationContext, BackchannelLogoutDelivery
from ..oauth.id_tokens import id_token_algorithm
from ..subjects import subject_for

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME_SECONDS = 120
MAX_ATTEMPTS = 5
# Wait before attempt 2, 3, 4, 5 (seconds): about an hour from the first to the last.
RETRY_DELAYS_SECONDS = (60, 5 * 60, 15 * 60, 40 * 60)
MAX_ERROR_LENGTH = 500


def logout_token_sign(*, client: Any, sub: str, sid: str, jti: str) -> str:
    """A logout token for ``client`` (2.4): iss, aud, iat, exp, jti, events, sub and sid,
    never a nonce (2.4: a logout token with one is rejected), signed like its ID tokens with
    header ``typ: logout+jwt`` (2.4, explicit typing)."""
    now = int(time.time())
    claims = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "aud": client.client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME_SECONDS,
        "jti": jti,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        "sub": sub,
        "sid": sid,
    }
    key = active_signing_key(id_token_algorithm(client))
    header = {"typ": "logout+jwt", "alg": key.algorithm, "kid": key.kid}
    signed = jwt.JWT(header=header, claims=json.dumps(claims))
    signed.make_signed_token(key.jwk)
    return str(signed.serialize())


def backchannel_logout_schedule(*, sid: str, user_id: str) -> list[BackchannelLogoutDelivery]:
    """Record a delivery for each client owed a logout token for session ``sid`` of user
    ``user_id``, and send them once the current transaction commits."""
    if not sid:
        return []
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return []
    application_ids = set(
        AuthorizationContext.objects.filter(sid=sid, user=user).values_list(
            "application_id", flat=True
        )
    )
    clients = (
        get_application_model()
        .objects.filter(pk__in=application_ids)
        .exclude(backchannel_logout_uri="")
    )
    now = timezone.now()
    deliveries = [
        BackchannelLogoutDelivery.objects.create(
            application=client, sid=sid, sub=subject_for(user, client), next_attempt_at=now
        )
        for client in clients
    ]
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        # robust: a failure to send is logged and left to the retries, never fails the sign-out.
        transaction.on_commit(lambda: _deliver_ids(ids), robust=True)
    return deliveries


def _deliver_ids(ids: list[int]) -> None:
    for delivery in BackchannelLogoutDelivery.objects.filter(pk__in=ids).select_related(
        "application"
    ):
        backchannel_logout_deliver(delivery=delivery)


def backchannel_logout_deliver(*, delivery: BackchannelLogoutDelivery) -> bool:
    """One attempt: POST a fresh logout token (new jti; 2.5 form ``logout_token``) to the
    client's URI. HTTP 200 or 204 is success (2.8); anything else schedules the next
    attempt, or gives up after MAX_ATTEMPTS. Returns whether it was delivered."""
    client = delivery.application
    jti = secrets.token_urlsafe(24)
    delivery.jti = jti
    delivery.attempts += 1
    status: int | None = None
    error = ""
    if not client.backchannel_logout_uri:
        error = "the client no longer has a back-channel logout URI"
    else:
        token = logout_token_sign(client=client, sub=delivery.sub, sid=delivery.sid, jti=jti)
        try:
            response = outbound_post(client.backchannel_logout_uri, data={"logout_token": token})
            status = response.status_code
            if status not in (200, 204):
                error = f"HTTP {status}"
        except OutboundRefused as refused:
            error = f"refused: {refused}"
        except requests.RequestException as failure:
            error = f"{type(failure).__name__}: {failure}"
    delivery.last_status = status
    delivery.last_error = error[:MAX_ERROR_LENGTH]
    now = timezone.now()
    if not error:
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = _next_attempt_at(delivery.attempts, now)
    delivery.save(
        update_fields=[
            "jti",
            "attempts",
            "last_status",
            "last_error",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return not error


def _next_attempt_at(attempts: int, now: datetime) -> datetime | None:
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS_SECONDS[min(attempts, len(RETRY_DELAYS_SECONDS)) - 1]
    return now + timedelta(seconds=delay)


def backchannel_logouts_deliver_due(*, now: datetime | None = None) -> tuple[int, int]:
    """Attempt every delivery whose next attempt is due; returns (delivered, failed)."""
    due = BackchannelLogoutDelivery.objects.filter(
        delivered_at__isnull=True, next_attempt_at__lte=now or timezone.now()
    ).select_related("application")
    delivered = failed = 0
    for delivery in due:
        if backchannel_logout_deliver(delivery=delivery):
            delivered += 1
        else:
            failed += 1
    return delivered, failed
