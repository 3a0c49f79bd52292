"""Hosted sign-in and sign-up pages: allauth's views, aware of the pending request."""

from __future__ import annotations

from typing import Any

from allauth.account import views as allauth_views

from ciam.interaction import PendingAuthorization, pending_from_next_url


class PendingRequestMixin:
    """Puts the relying party's name (and login_hint) of the pending request on the page."""

    def pending_request(self) -> PendingAuthorization | None:
        if not hasattr(self, "_pending"):
            next_url = self.request.GET.get("next") or self.request.POST.get("next") or ""
            self._pending = pending_from_next_url(self.request, next_url)
        return self._pending

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        pending = self.pending_request()
        context["client_name"] = pending.client_name if pending else ""
        return context


class LoginView(PendingRequestMixin, allauth_views.LoginView):
    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        pending = self.pending_request()
        # OIDC Core 3.1.2.1: login_hint pre-fills the identifier.
        if pending is not None and "@" in pending.login_hint:
            initial["login"] = pending.login_hint
        return initial


class SignupView(PendingRequestMixin, allauth_views.SignupView):
    pass
