"""Password change and account recovery forms with "Sign out of all other devices".

Django signs every other session out when the password changes (their session hash no
longer matches), but leaves their records, tokens and clients untouched. Here the choice is
explicit (checked by default):

- checked: every other active session is ended the way signing out ends it (its tokens
  revoked, its clients told by back-channel logout); on account recovery there is no
  session to keep, so all of them end;
- unchecked: the other sessions stay signed in (they are given the new password's hash).

allauth saves the form before it updates this browser's session hash and sends
``password_changed`` / ``password_reset``; the form only records the choice on the user
it saved, and the receivers below act once those signals are sent, so that the sessions
kept carry the final hash. Settings::

    ACCOUNT_FORMS = {
        "change_password": "accounts.password_forms.ChangePasswordForm",
        "reset_password_from_key": "accounts.password_forms.ResetPasswordKeyForm",
    }
"""

from __future__ import annotations

from typing import Any

from allauth.account import forms as allauth_forms
from allauth.account.signals import password_changed, password_reset
from django import forms
from django.contrib.auth.base_user import AbstractBaseUser
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sessions_ctx.models import EndReason
from sessions_ctx.services.sessions import (
    current_session_id,
    session_end,
    sessions_keep_after_password_change,
    sessions_revoke_all,
)

FIELD_SIGN_OUT_OTHERS = "sign_out_other_sessions"
# The choice travels from the form's save() to the signal receiver on the user object
# allauth hands to both (the view's form.user / reset_user).
_CHOICE_ATTRIBUTE = "_ciam_sign_out_other_sessions"


def _sign_out_field() -> forms.BooleanField:
    return forms.BooleanField(
        label=_("Sign out of all other devices"),
        help_text=_("Recommended if you think someone else may know your password."),
        required=False,
        initial=True,
    )


def sign_out_choice_record(*, user: AbstractBaseUser, sign_out_others: bool) -> None:
    setattr(user, _CHOICE_ATTRIBUTE, bool(sign_out_others))


def sign_out_choice_take(*, user: AbstractBaseUser) -> bool | None:
    """The choice recorded by one of these forms for ``user``; None when the password was
    changed another way (then Django's default applies)."""
    choice = getattr(user, _CHOICE_ATTRIBUTE, None)
    if choice is not None:
        delattr(user, _CHOICE_ATTRIBUTE)
    return choice


class ChangePasswordForm(allauth_forms.ChangePasswordForm):
    sign_out_other_sessions = _sign_out_field()

    def save(self) -> None:
        super().save()
        assert self.user is not None  # allauth's change form always has one
        sign_out_choice_record(
            user=self.user, sign_out_others=self.cleaned_data[FIELD_SIGN_OUT_OTHERS]
        )


class ResetPasswordKeyForm(allauth_forms.ResetPasswordKeyForm):
    sign_out_other_sessions = _sign_out_field()

    def save(self) -> None:
        super().save()
        sign_out_choice_record(
            user=self.user, sign_out_others=self.cleaned_data[FIELD_SIGN_OUT_OTHERS]
        )


def sessions_after_password_change(
    *, request: HttpRequest, user: AbstractBaseUser, sign_out_others: bool, recovery: bool
) -> None:
    """Apply the choice once the new password is in place (and, on a change, this
    browser's session carries its hash). A recovery keeps no session: a browser signed in
    as the same user where the password was reset is signed out too."""
    if not sign_out_others:
        sessions_keep_after_password_change(request=request, user=user)
        return
    current = current_session_id(request)
    sessions_revoke_all(user=user, reason=EndReason.PASSWORD_CHANGED, keep_session_id=current)
    if recovery and current is not None:
        # This request's own session is ended in place (deleting it from the store under
        # the running request would fail the response).
        session_end(request=request, reason=EndReason.PASSWORD_CHANGED)


@receiver(password_changed, dispatch_uid="accounts.password_forms.password_changed")
def apply_choice_on_password_change(
    sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any
) -> None:
    choice = sign_out_choice_take(user=user)
    if choice is not None:
        sessions_after_password_change(
            request=request, user=user, sign_out_others=choice, recovery=False
        )


@receiver(password_reset, dispatch_uid="accounts.password_forms.password_reset")
def apply_choice_on_password_reset(
    sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any
) -> None:
    choice = sign_out_choice_take(user=user)
    if choice is not None:
        sessions_after_password_change(
            request=request, user=user, sign_out_others=choice, recovery=True
        )
