"""Domain events of the session context (Signal definitions only)."""

from __future__ import annotations

from django.dispatch import Signal

# A signed-in browser session ended (sign-out; services.logout.session_logout). Sent after
# the browser is signed out, for sessions that had an authentication state. Arguments:
# request, user_id (str), sid (the OP session id relying parties know, OIDC Back-Channel
# Logout 1.0). ciam revokes the tokens the session issued (ciam.receivers).
session_ended = Signal()
