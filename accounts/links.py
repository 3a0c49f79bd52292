"""Absolute links in the messages the provider sends."""

from __future__ import annotations

from django.conf import settings


def issuer_url(path: str) -> str:
    """An absolute link to ``path`` on ``CIAM_ISSUER``: links sent by email never come from
    a request's Host header (which a client chooses, within ALLOWED_HOSTS). Addresses are
    verified with emailed codes, which carry no link; the passwordless link, the password
    reset link and the security notices are built here or from CIAM_ISSUER too."""
    return settings.CIAM_ISSUER.rstrip("/") + path
