"""What the validator's callbacks share during one oauthlib request.

oauthlib calls the validator a dozen times per request, each time with nothing but its
``Request``: what one callback loaded (the code's grant, its authorization context) or what
the caller knew (how the user authenticated) reaches the next one through that request. All
of it lives in one ``OAuthRequestState``, reached with ``oauth_state(request)``; nothing else
of ours is set on the oauthlib request. (The attributes oauthlib and DOT define themselves,
``request.user``, ``request.claims``, ``request.refresh_token_instance``, ``request.id_token``
and the like, stay theirs.) Compare allauth's ``idp/oidc/internal/oauthlib/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oauth2_provider.models import AbstractGrant
    from oauthlib.common import Request as OAuthlibRequest

    from sessions_ctx.selectors import AuthState

    from ..models import AuthorizationContext

# The one attribute of ours on an oauthlib request (set through the credentials oauthlib
# copies onto its request, or on first use).
STATE_ATTRIBUTE = "ciam_oauth_state"


@dataclass
class OAuthRequestState:
    """Per-request state of the OAuth callbacks, field by field:

    ``auth``
        How and when the browser session's user authenticated (sid, auth_time, amr, acr),
        given by the caller that issues a code (ciam/services/authorization.py) and stored in
        the code's ``AuthorizationContext``, so every ID token issued from the code reports
        it (OIDC Core 2: auth_time, acr, amr; Front/Back-Channel Logout: sid). None when
        no session state is known: the context then gets auth_time "now" and no sid.
    ``grants``
        Authorization codes looked up during this token request, by code (None: unknown).
        oauthlib asks for a code's scopes to choose the OpenID grant before it validates the
        code: both read this, so the grant is read once.
    ``grant``
        The grant ``validate_code`` accepted: its PKCE challenge, nonce and redirect_uri
        answer the callbacks that follow (RFC 7636 4.6, OIDC Core 3.1.3.7, RFC 6749 4.1.3).
    ``context``
        The ``AuthorizationContext`` behind the tokens being issued: the code's (loaded by
        ``validate_code``) or, on refresh, the one that started the token family. The ID
        token's auth_time, sid, acr and amr and the ``claims`` request come from it; the
        first refresh token records its family in it (replay of the code revokes that family).
    """

    auth: AuthState | None = None
    grants: dict[str, AbstractGrant | None] = field(default_factory=dict)
    grant: AbstractGrant | None = None
    context: AuthorizationContext | None = None


def oauth_state(request: OAuthlibRequest) -> OAuthRequestState:
    """The state of ``request``, created empty on first use."""
    state = getattr(request, STATE_ATTRIBUTE, None)
    if not isinstance(state, OAuthRequestState):
        state = OAuthRequestState()
        setattr(request, STATE_ATTRIBUTE, state)
    return state


def oauth_credentials(*, user: Any, auth: AuthState | None) -> dict[str, Any]:
    """The ``credentials`` for oauthlib's ``create_authorization_response``: oauthlib sets
    each item on its request, so the validator sees ``request.user`` and, through
    ``oauth_state(request)``, how that user authenticated."""
    return {"user": user, STATE_ATTRIBUTE: OAuthRequestState(auth=auth)}
