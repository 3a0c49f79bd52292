"""Signal receivers: each hands over to a service."""

from __future__ import annotations

from typing import Any

from .services.sessions import failed_sign_in_record


def count_failed_sign_in(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    """django.contrib.auth.signals.user_login_failed: a wrong password for an account is
    remembered until its next successful sign-in (risk assessor failed_attempts)."""
    identifier = credentials.get("email") or credentials.get("username") or ""
    failed_sign_in_record(identifier=str(identifier))
