"""The interaction pipeline between an authorization request and the code it earns.

An authorization request is validated once, then kept server-side (in the session) as a
``PendingAuthorization`` under a random id. The steps listed in
``settings.CIAM_INTERACTION_STEPS`` run in order; each answers "satisfied for this request and
session?" and, if not, names the page that satisfies it. After that page the browser comes
back to ``/authorize/resume/<id>`` and the same request continues. With ``prompt=none`` an
unsatisfied step ends the request with that step's error instead (OIDC Core 3.1.2.6).

Adding a step is one small module with an ``InteractionStep`` subclass and one line in the
setting. Compare oidc-provider's interaction policy, Keycloak's required actions and
authentik's stages.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, resolve, reverse
from django.utils.module_loading import import_string

SESSION_KEY_PENDING = "ciam.pending"
PENDING_TTL_SECONDS = 30 * 60
MAX_PENDING_PER_SESSION = 8


@dataclass
class PendingAuthorization:
    """A validated authorization request waiting for the user."""

    id: str
    client_id: str
    client_name: str
    query: str  # the request's parameters, urlencoded, as validated
    scopes: list[str]
    created_at: float
    # Set by steps once they are done (e.g. consent given in this interaction).
    done: list[str] = field(default_factory=list)

    @cached_property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def prompt(self) -> set[str]:
        return set(self.params.get("prompt", "").split())

    @property
    def max_age(self) -> int | None:
        value = self.params.get("max_age", "")
        return int(value) if value.isdigit() else None

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

    @property
    def resume_url(self) -> str:
        return reverse("oidc:authorize-resume", args=[self.id])

    def to_session(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("params", None)
        return data

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


class InteractionStep:
    """One thing that must hold before a code is issued.

    Subclasses set ``name`` and ``prompt_none_error`` (the OIDC error for prompt=none) and
    implement ``is_satisfied`` and ``url``.
    """

    name = ""
    prompt_none_error = "interaction_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        raise NotImplementedError

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        raise NotImplementedError

    def prompt_none_error_for(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        """The error for prompt=none when this step is unsatisfied (may depend on why)."""
        return self.prompt_none_error


@lru_cache(maxsize=1)
def _steps(paths: tuple[str, ...]) -> tuple[InteractionStep, ...]:
    return tuple(import_string(path)() for path in paths)


def interaction_steps() -> tuple[InteractionStep, ...]:
    return _steps(tuple(settings.CIAM_INTERACTION_STEPS))


def next_unsatisfied_step(
    request: HttpRequest, pending: PendingAuthorization
) -> InteractionStep | None:
    for step in interaction_steps():
        if not step.is_satisfied(request, pending):
            return step
    return None
