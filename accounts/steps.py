"""Interaction step: the user is signed in, recently enough, as the right person."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from ciam.interaction import InteractionStep, PendingAuthorization
from ciam.oauth.id_tokens import id_token_names_user, verify_id_token
from sessions_ctx.selectors import session_auth_state


class SignInStep(InteractionStep):
    """OIDC Core 3.1.2.1: prompt=login, max_age and id_token_hint decide re-authentication."""

    name = "sign_in"
    prompt_none_error = "login_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        state = session_auth_state(request)
        if state is None:
            return False
        if pending.id_token_hint:
            # The hint's sub is the one its client sees (public, pairwise or legacy): compare
            # it with that client's sub for the session's user, not with the user's id.
            claims = verify_id_token(pending.id_token_hint)
            if claims is None or not id_token_names_user(claims, request.user):
                return False
        if state.auth_time >= int(pending.created_at):
            return True  # authenticated during this very request
        if "login" in pending.prompt:
            return False
        max_age = pending.max_age
        return max_age is None or time.time() - state.auth_time <= max_age

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("account_login") + "?" + urlencode({"next": pending.resume_url})
