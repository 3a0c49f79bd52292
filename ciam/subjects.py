"""Subject identifiers: the ``sub`` a client sees for a user (OIDC Core 8).

Each client has a ``subject_type`` (``Application.subject_type``):

- ``public`` (OIDC Core 8): the user's ``public_id``, random and never reassigned, the same
  for every client. It tells nothing about the number or order of accounts.
- ``pairwise`` (OIDC Core 8.1): a value per sector, so that clients of different sectors
  cannot link a user by ``sub``: base64url(HMAC-SHA256(salt, sector NUL public_id)), 43
  characters. The salt is ``CIAM_PAIRWISE_SALT`` (empty: derived from ``SECRET_KEY``):
  changing it changes every pairwise ``sub``. One-way: the provider keeps no table of them.
- ``legacy``: the user's database id ("1", "5"), for clients registered before subject
  types existed, whose relying parties have stored those values.

The sector (OIDC Core 8.1) is the client's ``sector_identifier`` when set (a host name, in
place of the ``sector_identifier_uri`` this provider cannot fetch), else the host of its
redirect URIs, which must then be one host (``Application.clean``).
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import urlsafe_b64encode
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.encoding import force_bytes

from common.app_settings import BaseAppSettings, Setting

SUBJECT_PUBLIC = "public"
SUBJECT_PAIRWISE = "pairwise"
SUBJECT_LEGACY = "legacy"
# What discovery announces (OIDC Discovery 3): legacy subjects are public ones to a client.
SUBJECT_TYPES_SUPPORTED = (SUBJECT_PUBLIC, SUBJECT_PAIRWISE)


def _default_subject_type(value: Any) -> str:
    value = str(value).strip().lower()
    if value not in SUBJECT_TYPES_SUPPORTED:
        raise ImproperlyConfigured(
            f"CIAM_DEFAULT_SUBJECT_TYPE must be one of {', '.join(SUBJECT_TYPES_SUPPORTED)}."
        )
    return value


class SubjectSettings(BaseAppSettings):
    prefix = "CIAM_"

    DEFAULT_SUBJECT_TYPE = Setting(
        _default_subject_type,
        SUBJECT_PUBLIC,
        "Subject type of newly registered clients: ``public`` or ``pairwise``.",
    )
    PAIRWISE_SALT = Setting(
        str,
        "",
        "Secret key of the pairwise subject identifiers; empty: derived from SECRET_KEY. "
        "Changing it (or SECRET_KEY while it is empty) changes every pairwise ``sub``.",
    )


subject_settings = SubjectSettings()


def default_subject_type() -> str:
    """``CIAM_DEFAULT_SUBJECT_TYPE``: the subject type a new client gets."""
    return subject_settings.DEFAULT_SUBJECT_TYPE


def _pairwise_key() -> bytes:
    material = subject_settings.PAIRWISE_SALT or settings.SECRET_KEY
    return hashlib.sha256(b"ciam.pairwise-subject:" + force_bytes(material)).digest()


def redirect_uri_hosts(redirect_uris: str) -> set[str]:
    """The hosts of space-separated redirect URIs (OIDC Core 8.1), lower-case; a URI without
    a host (a private-use scheme, ``com.example.app:/cb``) counts by its scheme."""
    hosts = set()
    for uri in redirect_uris.split():
        try:
            parts = urlsplit(uri)
            host = parts.hostname or parts.scheme
        except ValueError:
            host = uri
        hosts.add(host.lower())
    return hosts


def client_sector(client: Any) -> str:
    """The sector identifier of ``client`` (OIDC Core 8.1): its ``sector_identifier``, else
    the host of its redirect URIs (the first one's if, unvalidated, there are several), else
    its client_id (a client without redirect URIs gets no user's ``sub`` anyway)."""
    if client.sector_identifier:
        return str(client.sector_identifier).lower()
    for uri in str(client.redirect_uris or "").split():
        hosts = redirect_uri_hosts(uri)
        if hosts:
            return hosts.pop()
    return str(client.client_id)


def pairwise_subject(*, sector: str, public_id: str) -> str:
    """OIDC Core 8.1: the ``sub`` of the user ``public_id`` in ``sector``."""
    message = force_bytes(sector) + b"\x00" + force_bytes(public_id)
    digest = hmac.new(_pairwise_key(), message, hashlib.sha256).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def subject_for(user: Any, client: Any | None) -> str:
    """The ``sub`` that ``client`` sees for ``user``: the same in its ID tokens, at UserInfo
    (OIDC Core 5.3.2) and in introspection; no client: the user's public subject."""
    subject_type = getattr(client, "subject_type", SUBJECT_PUBLIC)
    if subject_type == SUBJECT_LEGACY:
        return str(user.pk)
    if subject_type == SUBJECT_PAIRWISE:
        return pairwise_subject(sector=client_sector(client), public_id=user.public_id)
    return str(user.public_id)
