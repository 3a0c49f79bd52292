"""Second factor: TOTP authenticator apps, recovery codes, remembered browsers, step-up.

django-otp owns the devices (``TOTPDevice`` for the authenticator app, ``StaticDevice`` and
``StaticToken`` for the recovery codes); this package adds the pages, the services around
them and the interaction step (``steps.SecondFactorStep``) that asks for the code before an
authorization code is issued.
"""
