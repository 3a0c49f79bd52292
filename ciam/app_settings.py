"""Options of the OpenID Provider, read from settings named ``CIAM_<NAME>``.

ciam/settings.py sets them from the environment (README "Configuration"); the defaults here
apply when a settings module leaves one out. Each is read on access, never at import time,
so tests and operators may change them (``common/app_settings.py``).
"""

from __future__ import annotations

from typing import Any

from common.app_settings import BaseAppSettings, Setting


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value)


def _demo_default(settings: Any) -> bool:
    return bool(settings.DEBUG)


class AppSettings(BaseAppSettings):
    prefix = "CIAM_"

    ISSUER = Setting(
        str,
        "http://localhost:8000",
        "Public base URL of the provider: the ``iss`` of every token and the prefix of every "
        "endpoint (OIDC Discovery 4.3: the issuer matches the URL discovery is served under).",
    )
    BRAND_NAME = Setting(str, "CIAM", "Name shown on the hosted pages and in emails.")
    BRAND_LOGO_URL = Setting(str, "", "Logo of the hosted pages (an https URL); empty: none.")
    BRAND_COLOR = Setting(str, "#1f5fbf", "Accent colour of the hosted pages, in hex.")
    SIGNING_KEY_FILE = Setting(
        str,
        "",
        "Path of a PEM private key (RSA: RS256, EC P-256: ES256) that signs ID tokens ahead "
        "of the keys in the database (ciam/keys.py); empty: database keys only.",
    )
    CLIENT_SECRET_KEY = Setting(
        str,
        "",
        "Key of the HMAC client secrets are stored under (ciam/client_secrets.py); empty: "
        "derived from SECRET_KEY. Changing it invalidates every client secret.",
    )
    DEMO = Setting(
        bool, _demo_default, "The demo client's landing page /demo/callback (default: DEBUG)."
    )
    BACKCHANNEL_MIDDLEWARE = Setting(
        _strings,
        ("django.middleware.security.SecurityMiddleware",),
        "Middleware of the back-channel endpoints (token, userinfo, introspection, "
        "revocation; ciam/fastpath.py): called by servers, they need no session or CSRF.",
    )
    CLAIM_PROVIDERS = Setting(
        _strings,
        (),
        "Dotted paths of functions ``(user, application, scopes) -> dict`` giving the values "
        "of the provider's own claims (ciam/claims.py ``PROVIDED_SCOPE_CLAIMS``, e.g. "
        "``consents``); called for ID tokens and UserInfo only when such a scope was granted.",
    )
    REFRESH_TOKEN_ABSOLUTE_DAYS = Setting(
        int,
        90,
        "Days a refresh-token family works, counted from the authorization that started it, "
        "however often it is rotated (ciam/oauth/refresh_lifetime.py); past them refreshing "
        "is invalid_grant and the user signs in again. 0: no absolute limit.",
    )
    INTERACTION_STEPS = Setting(
        _strings,
        (
            "accounts.steps.SignInStep",
            "accounts.mfa.steps.SecondFactorStep",
            "accounts.passkeys.steps.PasskeyOfferStep",
            "consent.steps.ConsentStep",
        ),
        "Dotted paths of the interaction steps, in the order they run (README: "
        '"Extending the sign-in: the interaction pipeline").',
    )


app_settings = AppSettings()
