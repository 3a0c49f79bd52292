"""Interaction step: right after signing in, offer to create a passkey (optional).

The offer is a page between sign-in and the code with "Create passkey" and "Not now"; it
never blocks: it is shown only when it can help and only until the user declines once.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from ciam.interaction import InteractionStep, PendingAuthorization
from sessions_ctx.selectors import session_auth_state

from .app_settings import app_settings
from .constants import AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY, CAPABLE_COOKIE_NAME
from .selectors import passkey_offer_dismissed, session_recently_authenticated, user_has_passkey


class PasskeyOfferStep(InteractionStep):
    """Satisfied (nothing to show) unless all of these hold:

    - the request allows pages (no prompt=none) and the offer is enabled;
    - the user signed in during this very request, recently enough to add a passkey, and
      not with a passkey;
    - the browser told the sign-in page it has a user-verifying platform authenticator
      (a browser without one, or without JavaScript, could not act on the offer);
    - the user has no passkey and has not declined the offer before.
    """

    name = "passkey_offer"
    # Never reported: prompt=none always satisfies this step.
    prompt_none_error = "interaction_required"

    def is_satisfied(self, request: HttpRequest, pending: PendingAuthorization) -> bool:
        if "none" in pending.prompt or not app_settings.OFFER_ENABLED:
            return True
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return True
        if request.COOKIES.get(CAPABLE_COOKIE_NAME) != "1":
            return True
        state = session_auth_state(request)
        if state is None or state.auth_time < int(pending.created_at):
            return True
        if {AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY} & set(state.amr):
            return True
        if not session_recently_authenticated(request):
            return True
        return user_has_passkey(user) or passkey_offer_dismissed(user)

    def url(self, request: HttpRequest, pending: PendingAuthorization) -> str:
        return reverse("passkeys:offer", args=[pending.id])
