"""Domain events of the second factor (Signal definitions only).

Sent by ``services`` last, after the change is stored; ``request`` is None when the change
was made outside a request (a management command, a test fixture).
"""

from __future__ import annotations

from django.dispatch import Signal

# The authenticator app was confirmed: sign-in now asks for its code.
# Arguments: request, user, device (django_otp TOTPDevice).
second_factor_enabled = Signal()

# The authenticator app and the recovery codes were removed: sign-in is one factor again.
# Arguments: request, user.
second_factor_disabled = Signal()

# A new set of recovery codes replaced the old one (also when the app is first set up).
# Arguments: request, user, count (how many codes), initial (True with second_factor_enabled).
recovery_codes_generated = Signal()
