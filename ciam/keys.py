"""ID-token signing keys: generated on first start, rotated by command, published in JWKS.

Keys are read from the database once per process and re-read at most every
``reload_seconds()`` (``CIAM_KEYS_RELOAD_SECONDS``, 60 by default), so a rotation made by
``manage.py rotate_signing_key`` reaches every app process without a restart. A new key is
published at once and signs only from its ``active_from`` time, later than the reload
interval: by then every process publishes it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from jwcrypto import jwk
from oauth2_provider.settings import oauth2_settings

from .app_settings import app_settings
from .models import SigningKey

# The default of CIAM_KEYS_RELOAD_SECONDS.
RELOAD_SECONDS = 60
# A reload that failed (the database unreachable) keeps the keys already loaded and is
# tried again this many seconds later.
RELOAD_RETRY_SECONDS = 5
ALGORITHMS = (SigningKey.Algorithm.RS256, SigningKey.Algorithm.ES256)


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    algorithm: str
    jwk: jwk.JWK
    active_from: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class Keyring:
    keys: tuple[LoadedKey, ...]
    jwks_json: bytes
    jwks_etag: str
    loaded_at: float

    def active(self, algorithm: str) -> LoadedKey | None:
        now = timezone.now()
        for key in self.keys:  # newest first
            if key.algorithm != algorithm or key.active_from > now:
                continue
            if key.retired_at is None or key.retired_at > now:
                return key
        return None

    def by_kid(self, kid: str) -> LoadedKey | None:
        return next((key for key in self.keys if key.kid == kid), None)


_lock = threading.Lock()
_keyring: Keyring | None = None


def reload_seconds() -> float:
    """Seconds a process keeps its keyring before reading the keys again
    (``CIAM_KEYS_RELOAD_SECONDS``, read on each call): a rotated key reaches every process
    within this time, and starts signing after twice this time."""
    return float(getattr(settings, "CIAM_KEYS_RELOAD_SECONDS", RELOAD_SECONDS))


def _generate(algorithm: str) -> jwk.JWK:
    if algorithm == SigningKey.Algorithm.ES256:
        return jwk.JWK.generate(kty="EC", crv="P-256")
    return jwk.JWK.generate(kty="RSA", size=2048)


def publication_window() -> timedelta:
    """How long a retired key stays in JWKS: the longest life of a token it signed."""
    seconds = max(
        oauth2_settings.ID_TOKEN_EXPIRE_SECONDS, oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    )
    return timedelta(seconds=seconds + 300)


def _configured_key() -> LoadedKey | None:
    path = app_settings.SIGNING_KEY_FILE
    if not path:
        return None
    with open(path, "rb") as handle:
        key = jwk.JWK.from_pem(handle.read())
    algorithm = "ES256" if key.get("kty") == "EC" else "RS256"
    return LoadedKey(
        kid=key.thumbprint(),
        algorithm=algorithm,
        jwk=key,
        active_from=datetime.min.replace(tzinfo=timezone.get_current_timezone()),
        retired_at=None,
    )


def _build_keyring() -> Keyring:
    since = timezone.now() - publication_window()
    rows = SigningKey.objects.exclude(retired_at__lt=since).order_by("-active_from", "-id")
    keys: list[LoadedKey] = []
    configured = _configured_key()
    if configured is not None:
        keys.append(configured)
    for row in rows:
        key = jwk.JWK.from_pem(row.private_pem.encode())
        keys.append(
            LoadedKey(
                kid=row.kid,
                algorithm=row.algorithm,
                jwk=key,
                active_from=row.active_from,
                retired_at=row.retired_at,
            )
        )
    public = []
    for key in keys:
        data = key.jwk.export_public(as_dict=True)
        data.update({"kid": key.kid, "alg": key.algorithm, "use": "sig"})
        public.append(data)
    body = json.dumps({"keys": public}, separators=(",", ":"), sort_keys=True).encode()
    return Keyring(
        keys=tuple(keys),
        jwks_json=body,
        jwks_etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        loaded_at=time.monotonic(),
    )


def keyring(*, refresh: bool = False) -> Keyring:
    """The process's keyring, re-read from the database at most every ``reload_seconds()``."""
    global _keyring
    current = _keyring
    interval = reload_seconds()
    if not refresh and current is not None and time.monotonic() - current.loaded_at < interval:
        return current
    with _lock:
        if (
            not refresh
            and _keyring is not None
            and time.monotonic() - _keyring.loaded_at < interval
        ):
            return _keyring
        try:
            loaded = _build_keyring()
        except DatabaseError:
            if _keyring is None:
                raise
            # The database is away: the keys already loaded still sign and are published
            # (JWKS, tokens) meanwhile.
            _keyring = replace(
                _keyring, loaded_at=time.monotonic() - interval + RELOAD_RETRY_SECONDS
            )
            return _keyring
        if any(loaded.active(algorithm) is None for algorithm in ALGORITHMS):
            signing_keys_ensure()
            loaded = _build_keyring()
        _keyring = loaded
        return loaded


def active_signing_key(algorithm: str) -> LoadedKey:
    key = keyring().active(algorithm)
    if key is None:
        key = keyring(refresh=True).active(algorithm)
    if key is None:  # pragma: no cover - signing_keys_ensure always leaves one
        raise LookupError(f"No active {algorithm} signing key")
    return key


def _create_key(*, algorithm: str, active_from: datetime) -> SigningKey:
    key = _generate(algorithm)
    return SigningKey.objects.create(
        kid=key.thumbprint(),
        algorithm=algorithm,
        private_pem=key.export_to_pem(private_key=True, password=None).decode(),
        active_from=active_from,
    )


@transaction.atomic
def signing_keys_ensure() -> list[SigningKey]:
    """Create a signing key for every algorithm that has no usable one (first start)."""
    created = []
    now = timezone.now()
    for algorithm in ALGORITHMS:
        usable = (
            SigningKey.objects.select_for_update()
            .filter(algorithm=algorithm, active_from__lte=now)
            .exclude(retired_at__lte=now)
            .exists()
        )
        if not usable:
            created.append(_create_key(algorithm=algorithm, active_from=now))
    return created


@transaction.atomic
def signing_key_rotate(*, algorithm: str, immediately: bool = False) -> SigningKey:
    """Add a new signing key for ``algorithm`` and retire the current one.

    The new key is published at once and signs after two reload intervals, so every process
    publishes it before any token carries its kid; the old key stops signing then and stays
    published for ``publication_window()`` so that tokens it signed still verify.
    """
    now = timezone.now()
    start = now if immediately else now + timedelta(seconds=2 * reload_seconds())
    SigningKey.objects.filter(algorithm=algorithm, retired_at__isnull=True).update(retired_at=start)
    new_key = _create_key(algorithm=algorithm, active_from=start)
    keyring(refresh=True)
    return new_key


def signing_keys_prune() -> int:
    """Delete retired keys that no live token can refer to any more."""
    deleted, _ = SigningKey.objects.filter(
        retired_at__lt=timezone.now() - publication_window()
    ).delete()
    return deleted
