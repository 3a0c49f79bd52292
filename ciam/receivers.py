"""Signal receivers: each hands over to a service."""

from __future__ import annotations

from typing import Any

from .keys import signing_keys_ensure


def ensure_signing_keys(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """After migrate: the provider has signing keys before it serves its first request."""
    signing_keys_ensure()


def forget_cached_application(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A client saved or deleted here is read afresh by this process's next request."""
    from .oidc import application_cache_forget

    application_cache_forget(instance.client_id)
