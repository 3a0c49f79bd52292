"""Domain events of the session context (Signal definitions only)."""

from __future__ import annotations

from django.dispatch import Signal

# A signed-in browser session ended (sign-out; services.logout.session_logout). Sent after
# the browser is signed out, for sessions that had an authentication state. Arguments:
# request, user_id (str), sid (the OP session id relying parties know, OIDC Back-Channel
# Logout 1.0). ciam revokes the tokens the session issued (ciam.receivers).
session_ended = Signal()

# A sign-in completed in this browser and the risk engine looked at it
# (services.risk.risk_evaluate_sign_in, from session_start). Arguments: request, user, sid,
# amr (list of RFC 8176 values), acr, decision (models.RiskDecision). The sign-in method may
# still be corrected in the same request (authentication_recorded).
sign_in_completed = Signal()

# The session's authentication was recorded (services.authentication
# .session_record_authentication): at each sign-in, and again when a sign-in method states
# its own methods right after login() (passkeys, emailed codes). Arguments: request,
# user_id (str), sid, amr (list), acr, auth_time (int, seconds).
authentication_recorded = Signal()

# The risk engine asked for more than "allow": a step-up, ending or blocking the session
# (services.risk). Arguments: request, user_id, decision (models.RiskDecision).
risk_challenged = Signal()

# A session's acr changed because a factor was added (a second factor, a step-up:
# services.authentication.session_add_factor). Arguments: request, user_id (str), sid,
# acr_before, acr_after, amr (list).
assurance_changed = Signal()
