"""The formatter of ``ssf`` endpoints (CIAM_WEBHOOKS_FORMATTERS): outbox event -> SET push.

The webhooks worker calls ``set_request`` before each attempt at a delivery to a stream's
endpoint; it answers the RFC 8935 push request (a signed SET, ``application/secevent+jwt``,
the receiver's Authorization header) or None when the stream gets nothing of the event: the
stream is paused or disabled, does not deliver that event type, or does not cover the
customer (ssf/selectors.py). Built at send time: claims the customer no longer shares with
the client (consent withdrawn since) are not sent.

Outbox event -> SET event (ssf/events.py):

- ``session.revoked``, ``user.signed_out`` -> CAEP session-revoked
- ``user.signed_in`` -> CAEP session-established (acr, amr)
- ``credential.added`` / ``changed`` / ``removed`` -> CAEP credential-change
  (change_type create / update / delete)
- ``assurance.changed`` -> CAEP assurance-level-change (this provider's acr values)
- ``user.updated`` -> CAEP token-claims-change (only claims of scopes the client was granted,
  by their claim name: ProfileField.claim; fields that feed no claim are left out)

Session SETs (session-established, session-revoked, assurance-level-change) go only to the
clients holding an authorization of the event's session (``data["sid"]``), as back-channel
logout picks them; a sign-in waits ``CIAM_SSF_SESSION_WAIT_SECONDS`` for the client's
authorization of the new session (the delivery is retried), then is skipped.
- ``user.disabled`` / ``user.enabled`` / ``user.deleted`` -> RISC account-disabled /
  account-enabled / account-purged
- ``credential.compromised`` -> RISC credential-compromise
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from consent.selectors import connected_app
from events.selectors import event_data_project
from sessions_ctx.constants import ACR_RANK
from webhooks.formats import OutgoingRequest

from .app_settings import app_settings
from .events import SET_EVENT_BY_OUTBOX_TYPE
from .models import SsfStream, StreamStatus
from .selectors import deleted_subject_known, session_clients, stream_subject_for_event
from .sets import SET_MEDIA_TYPE, iss_sub, set_claims, set_jti_for, set_sign

# CAEP 1.0 3.4 namespace of current_level / previous_level: the acr values of this provider
# (discovery's acr_values_supported: "1", "2", "phr", "phrh"), a custom namespace.
ACR_NAMESPACE = "ciam-acr"

# CAEP 1.0 3.3 credential_type by the outbox's credential kind. Recovery codes and social
# accounts have no CAEP value: sent as types of their own ("any other credential type").
CREDENTIAL_TYPES = {
    "password": "password",
    "passkey": "fido2-platform",
    "totp": "app",
    "recovery_codes": "recovery-codes",
    "social": "federated",
    "phone": "phone-sms",
}
CHANGE_TYPES = {
    "credential.added": "create",
    "credential.changed": "update",
    "credential.removed": "delete",
}
# CAEP 1.0 2 initiating_entity, from the outbox's actor kind.
INITIATING_ENTITIES = {
    "user": "user",
    "customer": "user",
    "operator": "admin",
    "admin": "admin",
    "system": "system",
    "policy": "policy",
}
# An account that just went may reach the worker before its subject is recorded (the
# erasure's after-commit signal, ssf/receivers.py): its delivery is tried again.
DELETED_SUBJECT_WAIT = timedelta(seconds=60)


class SubjectNotReady(Exception):
    """The deleted account's subject is not recorded yet: the worker retries the delivery."""


Data = dict[str, Any]
Builder = Callable[[Any, Data], "Data | None"]


def _initiating_entity(data: Data) -> Data:
    entity = INITIATING_ENTITIES.get(str(data.get("actor") or ""))
    return {"initiating_entity": entity} if entity else {}


def _session_revoked(event: Any, data: Data) -> Data | None:
    body: Data = {}
    if event.type == "user.signed_out":
        body["initiating_entity"] = "user"
    return body


def _session_established(event: Any, data: Data) -> Data | None:
    body: Data = {}
    if data.get("acr"):
        body["acr"] = str(data["acr"])
    amr = data.get("amr")
    if isinstance(amr, list) and amr:
        body["amr"] = [str(value) for value in amr]
    return body


def _credential_type(data: Data) -> str | None:
    kind = str(data.get("kind") or "")
    return CREDENTIAL_TYPES.get(kind) or (kind.replace("_", "-") if kind else None)


def _credential_change(event: Any, data: Data) -> Data | None:
    credential_type = _credential_type(data)
    if credential_type is None:
        return None
    return {
        "credential_type": credential_type,
        "change_type": CHANGE_TYPES[event.type],
        **_initiating_entity(data),
    }


def _assurance_level_change(event: Any, data: Data) -> Data | None:
    current = str(data.get("acr_after") or "")
    if not current:
        return None
    body: Data = {"namespace": ACR_NAMESPACE, "current_level": current}
    previous = str(data.get("acr_before") or "")
    if previous:
        body["previous_level"] = previous
        before, after = ACR_RANK.get(previous), ACR_RANK.get(current)
        if before is not None and after is not None and before != after:
            body["change_direction"] = "increase" if after > before else "decrease"
    return body


# Claims of the account itself (not profile fields), named as in ID tokens.
ACCOUNT_CLAIMS = frozenset({"email", "email_verified"})


def _claim_names(keys: list[str]) -> dict[str, str]:
    """Field key -> the token claim it feeds (ProfileField.claim); keys of no claim left
    out."""
    from profiling.models import ProfileField

    names = {key: key for key in keys if key in ACCOUNT_CLAIMS}
    for key, claim in ProfileField.objects.filter(key__in=keys).values_list("key", "claim"):
        if claim:
            names[key] = str(claim)
        else:
            names.pop(key, None)
    return names


def _token_claims_change(event: Any, data: Data) -> Data | None:
    # ``fields`` was projected with the scopes and purposes the client holds: what is left
    # is what its tokens may carry, sent by claim name. Nothing left: nothing to tell.
    fields = data.get("fields")
    if not isinstance(fields, dict) or not fields:
        return None
    names = _claim_names([str(key) for key in fields])
    claims = {names[key]: value for key, value in fields.items() if key in names}
    if not claims:
        return None
    return {"claims": claims}


def _account_disabled(event: Any, data: Data) -> Data | None:
    # RISC 1.0 2.3: reason is "hijacking" or "bulk-account"; an operator's decision is neither.
    return _initiating_entity(data)


def _plain(event: Any, data: Data) -> Data | None:
    return {}


def _credential_compromise(event: Any, data: Data) -> Data | None:
    return {"credential_type": _credential_type(data) or "password"}


BUILDERS: dict[str, Builder] = {
    "session.revoked": _session_revoked,
    "user.signed_out": _session_revoked,
    "user.signed_in": _session_established,
    "credential.added": _credential_change,
    "credential.changed": _credential_change,
    "credential.removed": _credential_change,
    "assurance.changed": _assurance_level_change,
    "user.updated": _token_claims_change,
    "user.disabled": _account_disabled,
    "user.enabled": _plain,
    "user.deleted": _plain,
    "credential.compromised": _credential_compromise,
}


# Events of one browser session: sent only to the clients authorized in that session.
SESSION_EVENTS = frozenset(
    {"user.signed_in", "user.signed_out", "session.revoked", "assurance.changed"}
)


def _in_session(stream: SsfStream, event: Any) -> bool:
    """Whether the stream's client holds an authorization of the event's session; a sign-in
    younger than CIAM_SSF_SESSION_WAIT_SECONDS without one yet is retried (SubjectNotReady)."""
    sid = str((event.data or {}).get("sid") or "")
    if stream.application_id in session_clients(user=event.user, sid=sid):
        return True
    wait = timedelta(seconds=app_settings.SESSION_WAIT_SECONDS)
    if sid and event.type == "user.signed_in" and timezone.now() - event.created_at < wait:
        raise SubjectNotReady(str(event.event_id))
    return False


def _visible_data(stream: SsfStream, event: Any) -> Data | None:
    """The event's data as the stream's client may see it: tagged values of the scopes the
    customer granted it (consent or tokens) and of purposes it may see and they grant."""
    user = event.user
    scopes: list[str] = []
    if user is not None:
        app = connected_app(user=user, application_id=stream.application_id)
        scopes = list(app.scopes) if app is not None else []
    return event_data_project(
        event.data or {}, user=user, scopes=scopes, application=stream.application
    )


def set_for_event(*, stream: SsfStream, event: Any) -> str | None:
    """The signed SET that carries ``event`` on ``stream``, or None when it carries nothing."""
    if stream.status != StreamStatus.ENABLED:
        return None
    event_type = SET_EVENT_BY_OUTBOX_TYPE.get(event.type)
    builder = BUILDERS.get(event.type)
    if event_type is None or builder is None or event_type not in stream.events_delivered:
        return None
    subject = stream_subject_for_event(stream, event)
    if subject is None:
        if (
            event.user is None
            and not deleted_subject_known(stream=stream, public_subject=event.subject)
            and timezone.now() - event.created_at < DELETED_SUBJECT_WAIT
        ):
            raise SubjectNotReady(str(event.event_id))
        return None
    if event.type in SESSION_EVENTS and not _in_session(stream, event):
        return None
    data = _visible_data(stream, event)
    if data is None:
        return None
    body = builder(event, data)
    if body is None:
        return None
    # CAEP 1.0 2 / RISC 1.0: when the event happened, in seconds since the epoch.
    body["event_timestamp"] = int(event.time.timestamp())
    claims = set_claims(
        aud=stream.aud,
        sub_id=iss_sub(subject),
        event_type=event_type,
        event=body,
        jti=set_jti_for(event_id=event.event_id, stream_id=stream.stream_id),
        txn=str(event.event_id),
    )
    return set_sign(claims)


def push_headers(authorization: str) -> dict[str, str]:
    """RFC 8935 2.1: the SET as ``application/secevent+jwt``, JSON errors accepted; SSF 1.0
    6.1.1: the receiver's authorization header on every request (the webhooks worker adds
    its User-Agent; ssf/services/control.py its own)."""
    headers = {"Content-Type": SET_MEDIA_TYPE, "Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    return headers


def set_request(*, endpoint: Any, event: Any, delivery: Any) -> OutgoingRequest | None:
    """The formatter of ``ssf`` endpoints (contract: webhooks formatter registry)."""
    stream = (
        SsfStream.objects.select_related("application", "endpoint")
        .filter(endpoint_id=endpoint.pk)
        .first()
    )
    if stream is None:
        return None
    token = set_for_event(stream=stream, event=event)
    if token is None:
        return None
    return OutgoingRequest(body=token.encode("ascii"), headers=push_headers(endpoint.authorization))
