"""Signal receivers: each hands over to a service and does nothing else."""

from __future__ import annotations

from allauth.account.signals import email_added
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from sessions_ctx.services.sessions import session_start

from .mfa.notices import email_added_notify
from .privacy.services import erasure_cancel_on_sign_in


@receiver(user_logged_in, dispatch_uid="accounts.record_authentication")
def record_authentication_on_login(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        session_start(request=request, user=user)


@receiver(user_logged_in, dispatch_uid="accounts.privacy.cancel_erasure")
def cancel_erasure_on_login(sender, request, user, **kwargs) -> None:
    erasure_cancel_on_sign_in(request=request, user=user)


@receiver(email_added, dispatch_uid="accounts.notify_email_added")
def notify_email_added(sender, request, user, email_address, **kwargs) -> None:
    email_added_notify(request=request, user=user, email_address=email_address)
