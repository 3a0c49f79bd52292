"""Session keys and authentication vocabulary owned by this app."""

from __future__ import annotations

# The authentication state of a browser session: who, when, how (see AuthState).
SESSION_KEY_AUTH = "ciam.auth"

# RFC 8176 Authentication Method Reference values, keyed by allauth's method names.
AMR_BY_METHOD = {
    "password": "pwd",
    "password_reset": "pwd",
    "code": "otp",
    "socialaccount": "fed",
    "mfa": "otp",
}

# Authentication context class references (acr). "1": one factor; "2": two factors.
# OpenID EAP's phr / phrh join when phishing-resistant methods (passkeys) arrive.
ACR_ONE_FACTOR = "1"
ACR_TWO_FACTORS = "2"
ACR_VALUES_SUPPORTED = [ACR_ONE_FACTOR, ACR_TWO_FACTORS]
ACR_RANK = {ACR_ONE_FACTOR: 1, ACR_TWO_FACTORS: 2}
