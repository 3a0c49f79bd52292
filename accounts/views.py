"""Hosted sign-in and sign-up pages: allauth's views, aware of the pending request."""

from __future__ import annotations

from typing import Any

from allauth.account import views as allauth_views
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from ciam.interaction import PendingAuthorization, pending_from_next_url
from sessions_ctx.services.password_attempts import password_attempt_retry_after
from sessions_ctx.throttle import too_many_requests

from .steps import SignInStep


def _safe_next(request: HttpRequest, url: str) -> str:
    """``url`` when it stays on this site, else ""."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


class PendingRequestMixin:
    """Puts the relying party's name (and login_hint) of the pending request on the page,
    and sends a signed-in visitor on instead of showing an empty form (``signed_in_target``).
    """

    request: HttpRequest
    # The sign-in page keeps its form for a signed-in user sent with a next page: pages
    # that need a recent sign-in (adding a passkey, deleting the account) link here to
    # "sign in again".
    form_for_reauthentication = False

    def pending_request(self) -> PendingAuthorization | None:
        if not hasattr(self, "_pending"):
            next_url = self.request.GET.get("next") or self.request.POST.get("next") or ""
            self._pending = pending_from_next_url(self.request, next_url)
        return self._pending

    def signed_in_target(self) -> str:
        """Where a signed-in visitor of this page goes instead, or "" to show the form.

        Part of an authorization: on to it when the session already satisfies its sign-in
        (the pipeline goes on from there), the form when it asks for a new one (OIDC Core
        3.1.2.1: prompt=login, max_age, an id_token_hint of someone else). Otherwise the
        safe ``next`` or the portal's home page.
        """
        next_url = self.request.GET.get("next") or ""
        pending = self.pending_request()
        if pending is not None:
            return next_url if SignInStep().is_satisfied(self.request, pending) else ""
        safe_next = _safe_next(self.request, next_url)
        if safe_next and self.form_for_reauthentication:
            return ""
        return safe_next or resolve_url(settings.LOGIN_REDIRECT_URL)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "GET" and request.user.is_authenticated:
            target = self.signed_in_target()
            if target:
                return HttpResponseRedirect(target)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        pending = self.pending_request()
        context["client_name"] = pending.client_name if pending else ""
        return context


class LoginView(PendingRequestMixin, allauth_views.LoginView):
    form_for_reauthentication = True

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        pending = self.pending_request()
        # OIDC Core 3.1.2.1: login_hint pre-fills the identifier.
        if pending is not None and "@" in pending.login_hint:
            initial["login"] = pending.login_hint
        return initial

    def form_invalid(self, form: Form) -> HttpResponse:
        """A password attempt the throttle refused is HTTP 429 with Retry-After (RFC 6585
        4), the form and its error shown as for any other refusal."""
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "too_many_login_attempts"):
            wait = password_attempt_retry_after(
                request=self.request, identifier=str(form.data.get("login") or "")
            )
            response = too_many_requests(response, retry_after=wait)
        return response


class SignupView(PendingRequestMixin, allauth_views.SignupView):
    pass


class ReauthenticateView(allauth_views.ReauthenticateView):
    """allauth's "enter your password to continue", for customers who have one.

    Without a usable password (signed up by email code, social login or a passkey) allauth
    has no method left and refuses the page (PermissionDenied): they are sent to the
    provider's own confirmation instead (stepup.views.reauthenticate: a passkey, the
    authenticator app or an emailed code), which comes back to ``next``.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not user.has_usable_password():
            next_url = _safe_next(request, request.GET.get("next") or "")
            query = "?" + urlencode({"next": next_url}) if next_url else ""
            return HttpResponseRedirect(reverse("stepup:reauthenticate") + query)
        return super().dispatch(request, *args, **kwargs)


class EmailView(allauth_views.EmailView):
    """allauth's email addresses page; adding, removing or switching an address needs a
    recent sign-in or confirmation (a stolen session must not move the account to another
    mailbox): a password at allauth's "confirm it's you", or the provider's confirmation
    for a customer without one (a passkey, the authenticator app or an emailed code)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            request.method == "POST"
            and request.user.is_authenticated
            and not _recently_confirmed(request)
        ):
            query = "?" + urlencode({"next": reverse("account_email")})
            return HttpResponseRedirect(reverse("account_reauthenticate") + query)
        return super().dispatch(request, *args, **kwargs)


def _recently_confirmed(request: HttpRequest) -> bool:
    """A sign-in or confirmation of this session within the recent window (the session's
    authentication time), or allauth's password re-authentication within its timeout."""
    from allauth.account.internal.flows.reauthentication import did_recently_reauthenticate

    from .passkeys.selectors import session_recently_authenticated

    if session_recently_authenticated(request):
        return True
    user = request.user
    return (
        user.is_authenticated
        and user.has_usable_password()
        and did_recently_reauthenticate(request)
    )
