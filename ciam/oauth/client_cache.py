"""Clients kept in each process for a few seconds.

Clients change rarely and are read on every token request: each process keeps them for a
few seconds. A change made in admin is seen at once by the process that made it (the cache
entry is dropped on save and delete, ciam/receivers.py) and by the others within
``APPLICATION_CACHE_SECONDS``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oauth2_provider.models import AbstractApplication

APPLICATION_CACHE_SECONDS = 10.0
# Entries above this many empty the cache (client_ids are chosen by callers, not by us).
APPLICATION_CACHE_MAX_ENTRIES = 1000

_application_cache: dict[str, tuple[float, AbstractApplication]] = {}


def application_cache_get(client_id: str) -> AbstractApplication | None:
    """The client named ``client_id`` if this process read it less than
    ``APPLICATION_CACHE_SECONDS`` ago, else None."""
    entry = _application_cache.get(client_id)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def application_cache_put(application: AbstractApplication) -> None:
    """Keep ``application`` for ``APPLICATION_CACHE_SECONDS``."""
    if len(_application_cache) > APPLICATION_CACHE_MAX_ENTRIES:
        _application_cache.clear()
    _application_cache[application.client_id] = (
        time.monotonic() + APPLICATION_CACHE_SECONDS,
        application,
    )


def application_cached(client_id: str) -> AbstractApplication | None:
    """The client named ``client_id``: from this process's cache, else read and kept."""
    from oauth2_provider.models import get_application_model

    application = application_cache_get(client_id)
    if application is None:
        application = get_application_model().objects.filter(client_id=client_id).first()
        if application is not None:
            application_cache_put(application)
    return application


def application_cache_forget(client_id: str | None = None) -> None:
    """Drop the client named ``client_id``, or every client when it is None."""
    if client_id is None:
        _application_cache.clear()
    else:
        _application_cache.pop(client_id, None)
