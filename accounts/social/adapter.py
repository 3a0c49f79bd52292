"""allauth socialaccount adapter: the provider's hooks into social sign-in.

- A social sign-in whose *verified* email belongs to an existing account is never connected
  to it on the provider's word: it is held, and the person is asked to sign in to that
  account first (password or emailed code), then to confirm the link
  (views.social_link). With SOCIALACCOUNT_EMAIL_AUTHENTICATION off, allauth would instead
  answer as if a verification email had been sent and leave the person stuck; an unverified
  email still gets that answer, since revealing the account would enumerate it.
- A first social sign-in names the new profile from the provider's claims.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base import AuthProcess
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from .selectors import social_login_existing_account
from .services import profile_fill_from_social_login, social_link_stash

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialLogin


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        if sociallogin.is_existing:
            return  # a known social account: allauth signs its user in
        if sociallogin.state.get("process", AuthProcess.LOGIN) != AuthProcess.LOGIN:
            return  # connecting from the connections page, already signed in
        match = social_login_existing_account(sociallogin)
        if match is None:
            return  # a new person: allauth signs them up
        user, email = match
        social_link_stash(request=request, sociallogin=sociallogin, user=user, email=email)
        raise ImmediateHttpResponse(HttpResponseRedirect(reverse("social:link")))

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        user = super().save_user(request, sociallogin, form)
        profile_fill_from_social_login(user=user, sociallogin=sociallogin)
        return user
