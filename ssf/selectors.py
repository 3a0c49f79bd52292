"""Reads shared by the stream API, the formatter and the admin: documents, subjects, covers.

Who a stream covers (decided here, documented in the README "Shared Signals"): a customer
whose events reach a stream are those who use the stream's client, never anyone else (SSF
1.0 9.1 and 10.1: no subject probing, no leak of who else has an account). "Uses" means a
standing OAuth grant (``consent.Consent``), or an authorization, an access token or an
unrevoked refresh token issued to the client since the customer last removed it from
their connected apps. On top of that, ``default_subjects`` ALL sends every such customer
but those removed with subjects:remove; NONE only those added with subjects:add.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Max
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from ciam.models import AuthorizationContext
from ciam.subjects import (
    SUBJECT_LEGACY,
    SUBJECT_PAIRWISE,
    client_sector,
    pairwise_subject,
    subject_for,
)
from consent.models import Consent
from consent.selectors import connected_app

from .app_settings import app_settings
from .events import EVENTS_SUPPORTED
from .models import (
    DELIVERY_METHOD_PUSH,
    DefaultSubjects,
    SsfDeletedSubject,
    SsfStream,
    SsfSubject,
    StreamStatus,
)


def ssf_issuer() -> str:
    """SSF 1.0 7.1 issuer: the provider's issuer, the ``iss`` of every SET."""
    return str(oauth2_settings.OIDC_ISS_ENDPOINT)


def _url(name: str) -> str:
    origin = "/".join(ssf_issuer().split("/")[:3])
    return origin + reverse(name)


def transmitter_configuration() -> dict[str, Any]:
    """SSF 1.0 7.1 Transmitter Configuration Metadata (push delivery only: RFC 8935)."""
    return {
        "spec_version": "1_0",
        "issuer": ssf_issuer(),
        "jwks_uri": _url("oidc:jwks"),
        "delivery_methods_supported": [DELIVERY_METHOD_PUSH],
        "configuration_endpoint": _url("ssf:streams"),
        "status_endpoint": _url("ssf:status"),
        "add_subject_endpoint": _url("ssf:subjects-add"),
        "remove_subject_endpoint": _url("ssf:subjects-remove"),
        "verification_endpoint": _url("ssf:verify"),
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": app_settings.DEFAULT_SUBJECTS,
    }


def stream_document(stream: SsfStream) -> dict[str, Any]:
    """SSF 1.0 8.1.1 the stream configuration as the receiver reads it. The
    authorization header it gave is never sent back."""
    document: dict[str, Any] = {
        "stream_id": stream.stream_id,
        "iss": ssf_issuer(),
        "aud": stream.aud,
        "delivery": {"method": DELIVERY_METHOD_PUSH, "endpoint_url": stream.endpoint.url},
        "events_supported": list(EVENTS_SUPPORTED),
        "events_requested": list(stream.events_requested or []),
        "events_delivered": list(stream.events_delivered or []),
    }
    if stream.description:
        document["description"] = stream.description
    interval = app_settings.MIN_VERIFICATION_INTERVAL_SECONDS
    if interval > 0:
        document["min_verification_interval"] = interval
    return document


def streams_of(application: Any) -> Any:
    """The streams of the client ``application``, oldest first."""
    return (
        SsfStream.objects.filter(application=application)
        .select_related("endpoint", "application")
        .order_by("created_at", "id")
    )


def stream_of(application: Any, stream_id: Any) -> SsfStream | None:
    """The stream ``stream_id`` if it belongs to ``application`` (another client's is
    unknown to this one: SSF 1.0 8.1.1.2 404)."""
    if not isinstance(stream_id, str) or not stream_id or len(stream_id) > 64:
        return None
    return streams_of(application).filter(stream_id=stream_id).first()


def stream_status(stream: SsfStream) -> dict[str, Any]:
    """SSF 1.0 8.1.2.1: the status; a stream whose endpoint the worker disabled (its URL
    answered 410 Gone) reads as disabled, with the worker's reason."""
    status, reason = stream.status, stream.reason
    if status == StreamStatus.ENABLED and not stream.endpoint.active:
        status = "disabled"
        reason = str(getattr(stream.endpoint, "disabled_reason", "") or reason)
    document = {"stream_id": stream.stream_id, "status": status}
    if reason:
        document["reason"] = reason
    return document


def customer_uses_client(*, user: Any, application: Any) -> bool:
    """Whether ``user`` uses ``application`` now (see the module docstring)."""
    consent = Consent.objects.filter(user=user, application=application).only("revoked_at").first()
    if consent is not None and consent.revoked_at is None:
        return True
    since = consent.revoked_at if consent is not None else None
    contexts = AuthorizationContext.objects.filter(user=user, application=application)
    access = get_access_token_model().objects.filter(user=user, application=application)
    refresh = get_refresh_token_model().objects.filter(
        user=user, application=application, revoked__isnull=True
    )
    if since is not None:
        contexts = contexts.filter(created__gt=since)
        access = access.filter(created__gt=since)
        refresh = refresh.filter(created__gt=since)
    return bool(contexts.exists() or access.exists() or refresh.exists())


def _subject_chosen(stream: SsfStream, subject: str) -> bool:
    """``default_subjects`` and the subjects added or removed: does ``subject`` get events?"""
    row = SsfSubject.objects.filter(stream=stream, subject=subject).only("added").first()
    if stream.default_subjects == DefaultSubjects.NONE:
        return row is not None and row.added
    return row is None or row.added


def deleted_subject_known(*, stream: SsfStream, public_subject: str) -> bool:
    """Whether the account ``public_subject`` went and ``stream`` has its row (a sub, or ""
    when the stream's client did not know the account)."""
    return bool(public_subject) and (
        SsfDeletedSubject.objects.filter(stream=stream, public_subject=public_subject).exists()
    )


def _subject_of_erased(stream: SsfStream, event: Any) -> str | None:
    """The ``sub`` the stream's client knew for a deleted account (``event.user`` is gone):
    the one recorded when the account went (``SsfDeletedSubject``), if the client knew it."""
    if not event.subject:
        return None
    known = (
        SsfDeletedSubject.objects.filter(stream=stream, public_subject=event.subject)
        .values_list("subject", flat=True)
        .first()
    )
    return str(known) if known else None


def session_clients(*, user: Any, sid: str) -> set[int]:
    """The clients (application pks) holding an authorization of session ``sid`` of
    ``user``: the ones owed its session SETs, as back-channel logout picks them
    (ciam/services/backchannel_logout.py)."""
    if not sid or user is None:
        return set()
    return set(
        AuthorizationContext.objects.filter(sid=sid, user=user).values_list(
            "application_id", flat=True
        )
    )


def stream_subject_for_event(stream: SsfStream, event: Any) -> str | None:
    """The ``sub`` of ``event``'s customer for the stream's client, or None when the stream
    does not cover them (not a customer of the client, removed, or not added)."""
    user = event.user
    if user is None:
        subject = _subject_of_erased(stream, event)
    elif customer_uses_client(user=user, application=stream.application):
        subject = subject_for(user, stream.application)
    else:
        subject = None
    if subject is None or not _subject_chosen(stream, subject):
        return None
    return subject


def subject_user_resolve(*, stream: SsfStream, subject: Any) -> tuple[Any, str] | None:
    """RFC 9493 subject identifier -> (user, the ``sub`` the stream's client knows them
    by), for the formats this transmitter understands: ``iss_sub`` (our issuer and that
    ``sub``) and ``email`` (the address they sign in with). None: nobody the client may
    know by it (unknown, or not a customer of the client: the same answer, no probing)."""
    if not isinstance(subject, dict):
        return None
    application = stream.application
    User = get_user_model()
    user: Any = None
    kind = subject.get("format")
    if kind == "email":
        email = subject.get("email")
        if isinstance(email, str) and 0 < len(email) <= 254:
            user = User.objects.filter(email=email.strip().lower()).first()
        # Only a client the customer let see their address may name them by it: anyone
        # else could link an address to a sub (the same answer as an unknown address).
        if user is not None and not _email_granted(user, application):
            return None
    elif kind == "iss_sub":
        iss, sub = subject.get("iss"), subject.get("sub")
        if iss == ssf_issuer() and isinstance(sub, str) and 0 < len(sub) <= 255:
            user = _user_by_subject(application, sub)
    if user is None or not customer_uses_client(user=user, application=application):
        return None
    return user, subject_for(user, application)


def _email_granted(user: Any, application: Any) -> bool:
    """Whether ``user`` granted ``application`` the ``email`` scope (a standing grant or a
    token it holds)."""
    app = connected_app(user=user, application_id=application.pk)
    return app is not None and "email" in app.scopes


PAIRWISE_CACHE_SECONDS = 24 * 3600


def _pairwise_cache_key(application: Any, sub: str) -> str:
    return f"ssf.pairwise:{application.pk}:{sub}"


def _user_by_subject(application: Any, sub: str) -> Any:
    User = get_user_model()
    if application.subject_type == SUBJECT_LEGACY:
        if not (sub.isascii() and sub.isdecimal() and len(sub) <= 18):
            return None
        return User.objects.filter(pk=int(sub)).first()
    if application.subject_type != SUBJECT_PAIRWISE:
        return User.objects.filter(public_id=sub).first()
    # A pairwise sub cannot be turned back: compare with the client's own customers' (most
    # recent first, at most CIAM_SSF_PAIRWISE_SCAN_LIMIT), remembering what was found.
    sector = client_sector(application)
    key = _pairwise_cache_key(application, sub)
    known = cache.get(key)
    if known is not None:
        user = User.objects.filter(pk=known).only("pk", "public_id").first()
        if user is not None and pairwise_subject(sector=sector, public_id=user.public_id) == sub:
            return user
    limit = max(app_settings.PAIRWISE_SCAN_LIMIT, 0)
    recent: dict[int, Any] = {}
    for user_id, last in (
        AuthorizationContext.objects.filter(application=application)
        .values("user_id")
        .annotate(last=Max("created"))
        .order_by("-last")
        .values_list("user_id", "last")[:limit]
    ):
        recent[user_id] = last
    for user_id, last in (
        Consent.objects.filter(application=application)
        .order_by("-granted_at")
        .values_list("user_id", "granted_at")[:limit]
    ):
        if user_id not in recent or (last and recent[user_id] and last > recent[user_id]):
            recent[user_id] = last
    ordered = sorted(
        recent, key=lambda pk: recent[pk].timestamp() if recent[pk] else 0.0, reverse=True
    )[:limit]
    users = User.objects.filter(pk__in=ordered).only("pk", "public_id")
    for user in users.iterator(chunk_size=2000):
        if pairwise_subject(sector=sector, public_id=user.public_id) == sub:
            cache.set(key, user.pk, PAIRWISE_CACHE_SECONDS)
            return user
    return None


def subject_format_supported(subject: Any) -> bool:
    return isinstance(subject, dict) and subject.get("format") in ("iss_sub", "email")
