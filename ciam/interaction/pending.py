"""The pending authorization request: validated once, kept in the session, parsed once.

An authorization request is validated by ``ciam.services.authorization``, then kept
server-side (in the session) as a ``PendingAuthorization`` under a random id. Steps and their
pages read what they need from it (``prompt``, ``max_age``, ``claims_request``,
``essential_acr``, ``client``...), never the raw query string.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.http import HttpRequest
from django.urls import NoReverseMatch, resolve, reverse
from oauth2_provider.models import AbstractApplication

from ciam.claims import REQUESTABLE_PROVIDED_CLAIMS, STANDARD_CLAIMS, requested_claim_names
from ciam.oauth.client_cache import application_cached

from .responses import error_redirect_url

SESSION_KEY_PENDING = "ciam.pending"
PENDING_TTL_SECONDS = 30 * 60
MAX_PENDING_PER_SESSION = 8


def claims_request_parse(value: str) -> dict[str, Any]:
    """The ``claims`` parameter (OIDC Core 5.5): one JSON object whose ``userinfo`` and
    ``id_token`` members, when present, are objects. Raises ValueError otherwise.

    The authorization endpoint validates with it (a malformed value goes back to the client
    as invalid_request), and pending requests parse with it: one parser, one set of rules.
    """
    try:
        claims = json.loads(value)
    except RecursionError:
        # Nested deeper than the parser goes (a few thousand "[" fit in the parameter).
        raise ValueError("The claims parameter is nested too deeply.") from None
    if not isinstance(claims, dict):
        raise ValueError("The claims parameter must be a JSON object.")
    members = {member: claims.get(member, {}) for member in ("userinfo", "id_token")}
    if not all(isinstance(member, dict) for member in members.values()):
        raise ValueError("The userinfo and id_token members must be JSON objects.")
    return {name: member for name, member in members.items() if member}


def essential_acr_of(claims_request: dict[str, Any]) -> list[str] | None:
    """Values of an essential ``acr`` in the claims request's id_token member, else None.

    OIDC Core 5.5.1.1: ``{"acr": {"essential": true, "values": [...]}}`` (or ``value``); an
    essential acr without values accepts any acr, which is no demand ([] is returned then).
    """
    member = claims_request.get("id_token") or {}
    request = member.get("acr")
    if not isinstance(request, dict) or request.get("essential") is not True:
        return None
    values = request.get("values")
    if isinstance(values, list):
        return [value for value in values if isinstance(value, str)]
    if isinstance(request.get("value"), str):
        return [request["value"]]
    return None  # essential, but any acr will do


@dataclass
class PendingAuthorization:
    """A validated authorization request waiting for the user."""

    id: str
    client_id: str
    client_name: str
    query: str  # the request's parameters, urlencoded, as validated
    scopes: list[str]
    created_at: float
    # Names of the steps done during this interaction (e.g. consent given on its page).
    done: list[str] = field(default_factory=list)
    # Names of the steps whose page this interaction showed, in order (PingOne's "shown only
    # when no other step was shown": an optional question waits when another step
    # interrupted this sign-in).
    shown: list[str] = field(default_factory=list)
    # What a step decided for this interaction, by step name (small JSON data saved with the
    # request, e.g. which profile question to ask): a step's memory lives here, not in the
    # step.
    notes: dict[str, Any] = field(default_factory=dict)

    # --- the request's parameters, parsed once -----------------------------------------------

    @cached_property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def prompt(self) -> set[str]:
        return set(self.params.get("prompt", "").split())

    @property
    def max_age(self) -> int | None:
        value = self.params.get("max_age", "")
        return int(value) if value.isascii() and value.isdigit() else None

    @property
    def login_hint(self) -> str:
        return self.params.get("login_hint", "")[:254]

    @property
    def id_token_hint(self) -> str:
        return self.params.get("id_token_hint", "")

    @property
    def acr_values(self) -> list[str]:
        return self.params.get("acr_values", "").split()

    @property
    def ui_locales(self) -> list[str]:
        return self.params.get("ui_locales", "").split()

    @cached_property
    def claims_request(self) -> dict[str, Any]:
        """The ``claims`` parameter: its ``userinfo`` and ``id_token`` members (OIDC Core 5.5)."""
        value = self.params.get("claims", "")
        if not value:
            return {}
        try:
            return claims_request_parse(value)
        except ValueError:  # never stored: the authorization endpoint refused it
            return {}

    @cached_property
    def essential_acr(self) -> list[str] | None:
        """The acr values an essential ``acr`` claim demands, or None (OIDC Core 5.5.1.1)."""
        return essential_acr_of(self.claims_request)

    @cached_property
    def individually_requested_claims(self) -> list[str]:
        """Standard claims, custom claims of the profile schema and the personalization
        claims, asked for one by one through the ``claims`` parameter (the consent page
        lists them)."""
        names = requested_claim_names(self.claims_request, "userinfo") + requested_claim_names(
            self.claims_request, "id_token"
        )
        from profiling.schema import schema_current

        custom = schema_current().by_claim
        return sorted(
            {
                name
                for name in names
                if name in STANDARD_CLAIMS or name in custom or name in REQUESTABLE_PROVIDED_CLAIMS
            }
        )

    # --- the client -------------------------------------------------------------------------

    @cached_property
    def client(self) -> AbstractApplication | None:
        """The client application (None once it was deleted), read at most once per request
        object and served from the per-process client cache (a few seconds old at most)."""
        return application_cached(self.client_id)

    # --- where the browser goes next ------------------------------------------------------

    def interrupted_by(self, *, ignore: set[str]) -> list[str]:
        """Steps whose page this interaction showed, except those in ``ignore``."""
        return [name for name in self.shown if name not in ignore]

    @property
    def resume_url(self) -> str:
        return reverse("oidc:authorize-resume", args=[self.id])

    def error_url(self, error: str, description: str = "") -> str:
        """The redirect that ends this request with ``error`` (access_denied, login_required,
        consent_required...; RFC 6749 4.1.2.1, OIDC Core 3.1.2.6)."""
        return error_redirect_url(
            self.params["redirect_uri"], error, description, self.params.get("state", "")
        )

    # --- storage ------------------------------------------------------------------------------

    def to_session(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> PendingAuthorization:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def pending_new(
    *, client_id: str, client_name: str, query: str, scopes: list[str]
) -> PendingAuthorization:
    return PendingAuthorization(
        id=secrets.token_urlsafe(18),
        client_id=client_id,
        client_name=client_name,
        query=query,
        scopes=scopes,
        created_at=time.time(),
    )


def pending_save(request: HttpRequest, pending: PendingAuthorization) -> None:
    """Keep ``pending`` in the session; old and surplus requests are dropped."""
    now = time.time()
    stored = {
        key: value
        for key, value in (request.session.get(SESSION_KEY_PENDING) or {}).items()
        if now - float(value.get("created_at", 0)) < PENDING_TTL_SECONDS
    }
    stored[pending.id] = pending.to_session()
    if len(stored) > MAX_PENDING_PER_SESSION:
        newest = sorted(stored.items(), key=lambda item: item[1]["created_at"])
        stored = dict(newest[-MAX_PENDING_PER_SESSION:])
    request.session[SESSION_KEY_PENDING] = stored


def pending_load(request: HttpRequest, pending_id: str) -> PendingAuthorization | None:
    data = (request.session.get(SESSION_KEY_PENDING) or {}).get(pending_id)
    if not data or time.time() - float(data.get("created_at", 0)) >= PENDING_TTL_SECONDS:
        return None
    return PendingAuthorization.from_session(data)


def pending_discard(request: HttpRequest, pending_id: str) -> None:
    stored = request.session.get(SESSION_KEY_PENDING) or {}
    if pending_id in stored:
        stored.pop(pending_id)
        request.session[SESSION_KEY_PENDING] = stored


def pending_from_next_url(request: HttpRequest, next_url: str) -> PendingAuthorization | None:
    """The pending request a ``next=/authorize/resume/<id>`` link leads back to, if any."""
    parts = urlsplit(next_url or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None  # only same-site paths; "//host/..." names another site
    try:
        match = resolve(parts.path)
    except (NoReverseMatch, ValueError, Exception):
        return None
    if match.view_name != "oidc:authorize-resume":
        return None
    return pending_load(request, match.kwargs.get("pending_id", ""))
