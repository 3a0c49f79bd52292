"""Signal receivers: each hands over to a service and does nothing else."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from sessions_ctx.services.sessions import session_start

from .privacy.services import erasure_cancel_on_sign_in


@receiver(user_logged_in, dispatch_uid="accounts.record_authentication")
def record_authentication_on_login(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        session_start(request=request, user=user)


@receiver(user_logged_in, dispatch_uid="accounts.privacy.cancel_erasure")
def cancel_erasure_on_login(sender, request, user, **kwargs) -> None:
    erasure_cancel_on_sign_in(request=request, user=user)
