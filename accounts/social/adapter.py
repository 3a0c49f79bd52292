"""allauth socialaccount adapter: the provider's hooks into social sign-in.

- A social sign-in whose *verified* email belongs to an existing account is never connected
  to it on the provider's word: it is held, and the person is asked to sign in to that
  account first (password or emailed code), then to confirm the link
  (views.social_link). With SOCIALACCOUNT_EMAIL_AUTHENTICATION off, allauth would instead
  answer as if a verification email had been sent and leave the person stuck; an unverified
  email still gets that answer, since revealing the account would enumerate it.
- A first social sign-in names the new profile from the provider's claims.
- A provider without an app configured in the admin (or an id no provider has) has no
  sign-in: its login and callback URLs answer 404, like allauth's own OpenID Connect
  URLs, not a 500.
- A cancelled or failed social sign-in started from an authorization request does not end
  on allauth's dead-end pages: it goes to views.social_sign_in_ended, which offers to try
  again within the request or to go back to the client with access_denied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base import AuthError, AuthProcess
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse

from ciam.interaction.pending import pending_from_next_url
from common.request_id import HEADER as REQUEST_ID_HEADER
from common.request_id import outbound_request_id

from .selectors import social_login_existing_account, social_login_next_url
from .services import profile_fill_from_social_login, social_link_stash

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialLogin


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_provider(
        self, request: HttpRequest, provider: str, client_id: str | None = None
    ) -> Any:
        if "\x00" in provider or "\x00" in (client_id or ""):
            # From the path of allauth's OpenID Connect URLs; PostgreSQL refuses NUL in a
            # query parameter, and no provider has one in its id.
            raise Http404("No such sign-in provider.")
        try:
            return super().get_provider(request, provider, client_id)
        except SocialApp.DoesNotExist:
            raise Http404("No such sign-in provider.") from None

    def get_requests_session(self) -> Any:
        """allauth's session for the provider's token, profile and key calls, carrying the
        request id (ciam/ops/logs.py)."""
        session = super().get_requests_session()
        session.headers[REQUEST_ID_HEADER] = outbound_request_id()
        return session

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

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: Exception | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        super().on_authentication_error(
            request, provider, error=error, exception=exception, extra_context=extra_context
        )
        next_url = social_login_next_url(
            request, provider_id=provider.sub_id, state=(extra_context or {}).get("state")
        )
        pending = pending_from_next_url(request, next_url)
        if pending is None:
            return  # not within an authorization request: allauth's pages as they are
        reason = "cancelled" if error == AuthError.CANCELLED else "error"
        url = reverse("social:ended", args=[pending.id]) + "?" + urlencode({"reason": reason})
        raise ImmediateHttpResponse(HttpResponseRedirect(url))
