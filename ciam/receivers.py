"""Signal receivers: each hands over to a service."""

from __future__ import annotations

from typing import Any

from .keys import signing_keys_ensure
from .oauth.client_cache import application_cache_forget


def ensure_signing_keys(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """After migrate: the provider has signing keys before it serves its first request."""
    signing_keys_ensure()


def forget_cached_application(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A client saved or deleted here is read afresh by this process's next request."""
    application_cache_forget(instance.client_id)


def send_backchannel_logouts_of_ended_session(
    sender: Any, sid: str, user_id: str, **kwargs: Any
) -> None:
    """sessions_ctx.signals.session_ended: the clients that signed the user in during the
    session and registered a back-channel logout URI get a logout token (OIDC Back-Channel
    Logout 1.0), once the sign-out commits."""
    from .services.backchannel_logout import backchannel_logout_schedule

    backchannel_logout_schedule(sid=sid, user_id=user_id)


def remember_frontchannel_logouts_of_ended_session(
    sender: Any, request: Any, sid: str, user_id: str, **kwargs: Any
) -> None:
    """sessions_ctx.signals.session_ended: the clients of the session that registered a
    front-channel logout URI are framed by the logged-out page this browser sees next (OIDC
    Front-Channel Logout 1.0 3). Nothing for a session ended from elsewhere (no request)."""
    if request is None:
        return
    from .services.frontchannel_logout import frontchannel_logout_remember

    frontchannel_logout_remember(request=request, sid=sid, user_id=user_id)


def revoke_tokens_of_ended_session(sender: Any, sid: str, **kwargs: Any) -> None:
    """sessions_ctx.signals.session_ended: the tokens issued from the ended session are
    revoked (their whole refresh-token family) as each client's
    ``session_bound_refresh_tokens`` says: "online" (the default) spares those granted with
    ``offline_access``, which outlive the session (OIDC Core 11); "all" revokes them too;
    "none" revokes nothing."""
    from django.db.models import Q
    from oauth2_provider.models import get_refresh_token_model

    from .models import AuthorizationContext, SessionBoundRefreshTokens

    if not sid:
        return
    bound = "application__session_bound_refresh_tokens"
    families = (
        AuthorizationContext.objects.filter(sid=sid, token_family__isnull=False)
        .filter(
            Q(**{bound: SessionBoundRefreshTokens.ALL})
            | Q(**{bound: SessionBoundRefreshTokens.ONLINE}, offline=False)
        )
        .values_list("token_family", flat=True)
    )
    refresh_token_model = get_refresh_token_model()
    for family in families:
        refresh_token_model.revoke_family(family)
