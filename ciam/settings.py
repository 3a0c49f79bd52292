"""Settings for the identity provider.

Everything that differs between a laptop and production is read from the environment once,
here (django-environ). The defaults run a complete provider locally: SQLite under ``var/``,
emails printed to the console, signing keys generated on first start.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env("CIAM_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _persisted_secret_key() -> str:
    """A random key kept under var/ so that a local install survives restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="") or _persisted_secret_key()
# Rotating SECRET_KEY: the previous value here keeps signed cookies, emailed links and
# password-reset tokens made with it valid until they expire.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# The public base URL of the provider: the ``iss`` of every token and the prefix of every
# endpoint in discovery (OIDC Discovery 4.3: issuer must match the URL it is served under).
CIAM_ISSUER = env("CIAM_ISSUER", default="http://localhost:8000").rstrip("/")
_issuer = urlsplit(CIAM_ISSUER)
ISSUER_IS_HTTPS = _issuer.scheme == "https"

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", _issuer.hostname or "localhost"]
)
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[f"{_issuer.scheme}://{_issuer.netloc}"]
)

INSTALLED_APPS = [
    # django-unfold themes the admin: listed before django.contrib.admin.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "guardian",
    "ciam",
    "accounts",
    "consent",
    "profiling",
    "sessions_ctx",
    "audit",
    "console",
    "channels",
    "events",
    "webhooks",
    "ssf",
    "interactions",
    "personalization",
]

MIDDLEWARE = [
    "ciam.ops.outage.DatabaseOutageMiddleware",  # 503 + Retry-After while the database is down
    "django.middleware.security.SecurityMiddleware",
    "ciam.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.mfa.middleware.SecondFactorMiddleware",
    "sessions_ctx.middleware.SessionContextMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Token, userinfo, introspection and revocation (ciam/fastpath.py): called by servers, they
# read no cookie, session or language, so they skip the middleware the hosted pages need.
CIAM_BACKCHANNEL_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]

# daphne's runserver serves the ASGI application (HTTP and the live monitor's WebSockets) for
# `./dev run`. Only there: importing daphne installs Twisted's reactor, about 15 MiB in
# every process, which the application servers (granian) never use.
if sys.argv[1:2] == ["runserver"]:
    INSTALLED_APPS.insert(0, "daphne")

ROOT_URLCONF = "ciam.urls"
WSGI_APPLICATION = "ciam.wsgi.application"
ASGI_APPLICATION = "ciam.asgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "ciam.context_processors.branding",
            ],
        },
    },
]

# Database: SQLite under var/ by default, PostgreSQL (psycopg 3) through DATABASE_URL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ciam.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the single writer; busy timeout instead of "locked" errors.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Connections are kept between requests (each app thread its own): opening one costs more
# than most requests (on SQLite its PRAGMAs too), and the prepared lookups of
# ciam/oauth/prepared.py are compiled once per connection.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # A health check is one more round trip ("SELECT 1") before every request's first query.
    # Off by default: after a database restart each app thread fails one request, then
    # reconnects. DATABASE_CONN_HEALTH_CHECKS=1 trades that round trip for none failing.
    DATABASES["default"].setdefault(
        "CONN_HEALTH_CHECKS", env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
    )
    # Server-side parameter binding and prepared statements: the statement text is the same
    # on every call, so psycopg prepares a statement on its 5th use on a connection and
    # PostgreSQL stops planning it each time (planning the bearer-token lookup costs 0.5 ms,
    # running it 0.1 ms). Behind PgBouncer in transaction mode before 1.21 (no
    # max_prepared_statements), set DATABASE_PREPARED_STATEMENTS=0.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 5}
        )
    # Nothing waits forever: a request stuck on a dead server keeps one of a few app threads.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://ciam")}
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL and "CACHE_URL" not in env:
    _redis_timeout = env.float("REDIS_TIMEOUT", default=2.0)
    # A Redis outage leaves a cache that keeps nothing, not failing requests (ciam/ops/cache.py).
    CACHES = {
        "default": {
            "BACKEND": "ciam.ops.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_timeout": _redis_timeout, "socket_connect_timeout": _redis_timeout},
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Argon2id with OWASP's minimum (19 MiB, t=2, p=1) first; older hashes (PBKDF2, bcrypt)
# still verify and are re-hashed with Argon2id on the next successful sign-in.
# The last entry hashes OAuth client secrets only (see ciam/client_secrets.py).
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "ciam.client_secrets.ClientSecretHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pt-br", _("Portuguese (Brazil)"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Production serves hashed, compressed files made by `collectstatic` (CIAM_STATIC_MANIFEST on);
# development and tests serve the source files directly.
STATIC_MANIFEST = env.bool("CIAM_STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = DEBUG

# Email: console by default, any backend through EMAIL_URL (smtp://user:pass@host:587 ...).
_email = env.email("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
for _key in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD"):
    if _email.get(_key):
        globals()[_key] = _email[_key]
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="no-reply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Sessions live in the database (or cache + database) and carry the authentication state
# (auth_time, sid, amr) that ID tokens report.
SESSION_ENGINE = env("SESSION_ENGINE", default="django.contrib.sessions.backends.db")
# Sessions (sessions_ctx): "keep me signed in" slides over CIAM_SESSIONS_IDLE_DAYS and ends
# CIAM_SESSIONS_ABSOLUTE_DAYS after sign-in; the cookie's age is the idle period.
CIAM_SESSIONS_IDLE_DAYS = env.int("CIAM_SESSIONS_IDLE_DAYS", default=30)
CIAM_SESSIONS_ABSOLUTE_DAYS = env.int("CIAM_SESSIONS_ABSOLUTE_DAYS", default=90)
CIAM_SESSIONS_BROWSER_SESSION_IDLE_MINUTES = env.int(
    "CIAM_SESSIONS_BROWSER_SESSION_IDLE_MINUTES", default=720
)
CIAM_SESSIONS_BAD_NETWORKS = env.list("CIAM_SESSIONS_BAD_NETWORKS", default=[])
CIAM_SESSIONS_BAD_NETWORK_FILES = env.list("CIAM_SESSIONS_BAD_NETWORK_FILES", default=[])
CIAM_SESSIONS_GEOIP_CITY_DATABASE = env("CIAM_SESSIONS_GEOIP_CITY_DATABASE", default="")
CIAM_SESSIONS_GEOIP_ASN_DATABASE = env("CIAM_SESSIONS_GEOIP_ASN_DATABASE", default="")
SESSION_COOKIE_AGE = CIAM_SESSIONS_IDLE_DAYS * 24 * 60 * 60
SESSION_COOKIE_NAME = "ciam_session"
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_NAME = "ciam_csrf"
# Scripts read the CSRF token from the form, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_NAME = "ciam_language"
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# Production hardening: on whenever DEBUG is off and the issuer is https.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("CIAM_BEHIND_PROXY", default=False) else None
)
# Behind N proxies, the client address is the N-th from the right in X-Forwarded-For
# (rate limits are per client IP).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int(
    "CIAM_TRUSTED_PROXY_COUNT", default=1 if env.bool("CIAM_BEHIND_PROXY", default=False) else 0
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG and ISSUER_IS_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list is the operator's decision (it covers every
        # subdomain and is slow to undo); the header is sent either way.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"

# allauth: email is the only identifier, verified by a code; no username anywhere.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND = True
ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS = False
ACCOUNT_LOGOUT_ON_GET = False
# After /accounts/logout/ the logged-out page frames the clients' front-channel logout URIs.
ACCOUNT_LOGOUT_REDIRECT_URL = "oidc:logged-out"
# The password form's "keep me signed in" box (accounts.forms.LoginForm); allauth sets the
# same cookie lifetime as sessions_ctx does (SESSION_COOKIE_AGE or the browser session).
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if ISSUER_IS_HTTPS else "http"

# Password sign-in (sessions_ctx/services/password_attempts.py): wrong passwords are counted
# per (account, client address) pair and per client address, with exponential back-off;
# never per account alone, and successful sign-ins not at all (customers behind one
# carrier-grade NAT share an address). This replaces allauth's "login" limit (30 sign-in
# attempts a minute per address) and "login_failed" (5 wrong passwords per email address
# locked the account for everyone); allauth's other limits keep their defaults.
ACCOUNT_RATE_LIMITS = {"login": None, "login_failed": None}
CIAM_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = env.int(
    "CIAM_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS", default=5
)
CIAM_SIGNIN_ACCOUNT_AND_ADDRESS_WINDOW_SECONDS = env.int(
    "CIAM_SIGNIN_ACCOUNT_AND_ADDRESS_WINDOW_SECONDS", default=86400
)
CIAM_SIGNIN_FAILURES_PER_ADDRESS = env.int("CIAM_SIGNIN_FAILURES_PER_ADDRESS", default=100)
CIAM_SIGNIN_ADDRESS_WINDOW_SECONDS = env.int("CIAM_SIGNIN_ADDRESS_WINDOW_SECONDS", default=3600)
CIAM_SIGNIN_BACKOFF_SECONDS = env.int("CIAM_SIGNIN_BACKOFF_SECONDS", default=2)
CIAM_SIGNIN_BACKOFF_MAX_SECONDS = env.int("CIAM_SIGNIN_BACKOFF_MAX_SECONDS", default=900)
CIAM_SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE = env.int(
    "CIAM_SIGNIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", default=0
)

# guardian: no anonymous user row (the user model has no username to give it).
ANONYMOUS_USER_NAME = None
GUARDIAN_RENDER_403 = True

# The OpenID Provider: django-oauth-toolkit, extended in ciam/oauth/.
OAUTH2_PROVIDER_APPLICATION_MODEL = "ciam.Application"
CIAM_ACCESS_TOKEN_SECONDS = env.int("CIAM_ACCESS_TOKEN_SECONDS", default=3600)
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": CIAM_ISSUER,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OAUTH2_VALIDATOR_CLASS": "ciam.oauth.validator.CIAMValidator",
    "ACCESS_TOKEN_GENERATOR": "ciam.oauth.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "ciam.oauth.tokens.generate_token",
    "SCOPES": {
        "openid": _("Your account identifier"),
        "profile": _("Your name and basic profile"),
        "email": _("Your email address"),
        "phone": _("Your phone number"),
        "address": _("Your postal address"),
        "offline_access": _("Access while you are away"),
        "consents": _("Your choices about how your data is used"),
        "interests": _("Your interests and the best time to reach you"),
        # Machine clients only (ciam/oauth/validator.py): the consent API for back ends.
        "consent:read": _("Read customers' consent records"),
        "consent:write": _("Record customers' consent decisions"),
        # Machine clients only too: the profile API for back ends (profiling/api.py).
        "profile:read": _("Read customers' profiles and the profile schema"),
        "profile:write": _("Change customers' profile values"),
        # Machine clients only: interactions from other channels (interactions/api.py).
        "events:write": _("Send customers' interactions from other channels"),
        # Machine clients only: interests and recommendations (personalization/api.py).
        "personalization:read": _("Read customers' interests and recommendations"),
        # Machine clients only: Shared Signals streams (ssf/).
        "ssf:manage": _("Manage Shared Signals event streams"),
    },
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": CIAM_ACCESS_TOKEN_SECONDS,
    "ID_TOKEN_EXPIRE_SECONDS": CIAM_ACCESS_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int(
        "CIAM_REFRESH_TOKEN_SECONDS", default=60 * 60 * 24 * 30
    ),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "CLIENT_SECRET_HASHER": "ciam_hmac_sha256",
    # https only for a public (https) issuer; a local http issuer also allows http callbacks.
    "ALLOWED_REDIRECT_URI_SCHEMES": env.list(
        "CIAM_REDIRECT_URI_SCHEMES", default=["https"] if ISSUER_IS_HTTPS else ["http", "https"]
    ),
    "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 500,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
}

# Provider-specific options (ciam/app_settings.py reads these, with defaults there).
CIAM_BRAND_NAME = env("CIAM_BRAND_NAME", default="CIAM")
CIAM_BRAND_LOGO_URL = env("CIAM_BRAND_LOGO_URL", default="")
CIAM_BRAND_COLOR = env("CIAM_BRAND_COLOR", default="#1f5fbf")
CIAM_SIGNING_KEY_FILE = env("CIAM_SIGNING_KEY_FILE", default="")
CIAM_KEYS_RELOAD_SECONDS = env.float("CIAM_KEYS_RELOAD_SECONDS", default=60)  # ciam/keys.py
CIAM_CLIENT_SECRET_KEY = env("CIAM_CLIENT_SECRET_KEY", default="")
# Secret rotation: the previous client secret stays valid this long after a rotation.
CIAM_CLIENT_SECRET_GRACE_HOURS = env.float("CIAM_CLIENT_SECRET_GRACE_HOURS", default=24)
# Refresh-token families end this many days after their authorization, however often they
# are rotated (ciam/oauth/refresh_lifetime.py; 0: no limit).
CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS = env.int("CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS", default=90)
# Subject identifiers (ciam/subjects.py, OIDC Core 8): new clients' subject type, and the key
# of pairwise subs (empty: derived from SECRET_KEY; changing it changes every pairwise sub).
CIAM_DEFAULT_SUBJECT_TYPE = env("CIAM_DEFAULT_SUBJECT_TYPE", default="public")
CIAM_PAIRWISE_SALT = env("CIAM_PAIRWISE_SALT", default="")
# The demo client's landing page (/demo/callback), on by default in DEBUG.
CIAM_DEMO = env.bool("CIAM_DEMO", default=DEBUG)
CIAM_INTERACTION_STEPS = [
    "accounts.steps.SignInStep",
    "accounts.mfa.steps.SecondFactorStep",
    "accounts.stepup.steps.RiskStep",
    "accounts.passkeys.steps.PasskeyOfferStep",
    "profiling.steps.ProfileQuestionStep",
    "consent.steps.ConsentStep",
    "profiling.steps.ProfileRequiredStep",
    "profiling.steps.ProfileQuestionBeforeReturnStep",
]
# Claims of the provider's own scopes (ciam/claims.py PROVIDED_SCOPE_CLAIMS), by function.
CIAM_CLAIM_PROVIDERS = [
    "consent.claims.consents_claim",
    "personalization.claims.interests_claim",
]
# Consent receipts (consent/receipts.py): the law they are issued under and whom to contact.
CIAM_CONSENT_JURISDICTION = env("CIAM_CONSENT_JURISDICTION", default="BR")
CIAM_CONSENT_CONTROLLER_CONTACT = env("CIAM_CONSENT_CONTROLLER_CONTACT", default="")

# Data subject rights (accounts/privacy): days between asking to delete an account and its
# erasure; signing in meanwhile cancels it.
CIAM_PRIVACY_ERASURE_GRACE_DAYS = env.int("CIAM_PRIVACY_ERASURE_GRACE_DAYS", default=7)

# Second factors a session may still owe (sessions_ctx.policy.session_second_factor_missing):
# adding a passkey waits until the authenticator app's code was given.
CIAM_SESSIONS_SECOND_FACTOR_CHECKS = ["accounts.mfa.selectors.session_needs_second_factor"]
# A step-up asked by the risk policy (sessions_ctx) is given on accounts' page, and met by
# what the customer's methods prove (accounts/stepup).
CIAM_SESSIONS_STEP_UP_URL = "stepup:session"
CIAM_SESSIONS_STEP_UP_RESOLVERS = ["accounts.stepup.selectors.step_up_met_by_session"]
CIAM_SESSIONS_STEP_UP_EXEMPT_VIEWS = [
    "stepup:session",
    "stepup:verify",
    "passkeys:confirm-complete",
]

# Logs (ciam/ops/logs.py): one JSON object per line on standard error unless DEBUG or
# LOG_FORMAT=text, each with the request id (X-Request-ID) it was written under.
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "ciam.ops.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "ciam.ops.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
    "loggers": {
        "oauth2_provider": {"level": "WARNING"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}
CIAM_REQUEST_ID_HEADER = env("CIAM_REQUEST_ID_HEADER", default="X-Request-ID")

# --- Passwordless sign-in by email (accounts/passwordless) and social login (accounts/social) ---
# Sign-in and sign-up with one email holding a 6-digit code and a one-click link
# (accounts/passwordless). It replaces allauth's login-by-code, which neither signs up nor
# sends links; other options (attempts, resend cool-down, throttles) are read through
# accounts/passwordless/app_settings.py with the CIAM_EMAIL_SIGN_IN_ prefix.
ACCOUNT_LOGIN_BY_CODE_ENABLED = False
CIAM_EMAIL_SIGN_IN_ENABLED = env.bool("CIAM_EMAIL_SIGN_IN_ENABLED", default=True)
CIAM_EMAIL_SIGN_IN_SECONDS = env.int("CIAM_EMAIL_SIGN_IN_SECONDS", default=600)
# Gives the sign-in and sign-up pages ``email_sign_in_url`` (carrying ``next``).
TEMPLATES[0]["OPTIONS"]["context_processors"].append(
    "accounts.passwordless.context_processors.email_sign_in"
)

# Social login (accounts/social): operators add Google, Facebook, Apple or any OpenID Connect
# provider as a "Social application" in the admin; only configured providers get a button.
# There is no django.contrib.sites: allauth then uses every SocialApp for this one site.
INSTALLED_APPS += [
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.facebook",
    "allauth.socialaccount.providers.apple",
    "allauth.socialaccount.providers.openid_connect",
]
SOCIALACCOUNT_ADAPTER = "accounts.social.adapter.SocialAccountAdapter"
# Sign-in with "keep me signed in"; password change and recovery with "sign out of all other
# devices" (sessions_ctx ends or keeps the other sessions).
ACCOUNT_FORMS = {
    "login": "accounts.forms.LoginForm",
    "change_password": "accounts.password_forms.ChangePasswordForm",
    "reset_password_from_key": "accounts.password_forms.ResetPasswordKeyForm",
}
SOCIALACCOUNT_FORMS = {"disconnect": "accounts.social.forms.SocialDisconnectForm"}
# A first social sign-in creates the account with no form, unless the provider sent no
# email; an unverified one is verified by code (SOCIALACCOUNT_EMAIL_VERIFICATION follows
# ACCOUNT_EMAIL_VERIFICATION).
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = True
SOCIALACCOUNT_QUERY_EMAIL = True
# A provider's word never opens an existing account: a matching verified email leads to
# "sign in to that account, then link" (accounts/social/adapter.py).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
# Sign-in with a provider starts with a POST (the buttons are forms), never a bare link.
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
SOCIALACCOUNT_PROVIDERS = {
    "google": {"SCOPE": ["openid", "profile", "email"], "OAUTH_PKCE_ENABLED": True},
    "facebook": {"METHOD": "oauth2", "SCOPE": ["email", "public_profile"]},
    "apple": {},
    "openid_connect": {"OAUTH_PKCE_ENABLED": True},
}
# --- end passwordless and social ---

# --- Passkeys (accounts/passkeys) ---
# WebAuthn relying party (accounts/passkeys/app_settings.py documents each option). The RP ID
# is a registrable domain that passkeys are bound to: the issuer's host by default, or a
# parent domain of it (WebAuthn L3 5.1.2). Changing it later orphans every passkey.
CIAM_PASSKEYS_RP_ID = env("CIAM_PASSKEYS_RP_ID", default=_issuer.hostname or "localhost")
CIAM_PASSKEYS_RP_NAME = env("CIAM_PASSKEYS_RP_NAME", default=CIAM_BRAND_NAME)
# Origins allowed in clientDataJSON: the issuer's origin by default (a list, comma-separated).
# Browsers serialize an origin without a default port (HTML: "https://id.example").
_passkeys_port = (
    ""
    if _issuer.port in (None, {"https": 443, "http": 80}.get(_issuer.scheme))
    else f":{_issuer.port}"
)
CIAM_PASSKEYS_ORIGINS = env.list(
    "CIAM_PASSKEYS_ORIGINS",
    default=[f"{_issuer.scheme}://{_issuer.hostname or 'localhost'}{_passkeys_port}"],
)
# Offer to create a passkey right after a password sign-in (accounts.passkeys.steps).
CIAM_PASSKEYS_OFFER_ENABLED = env.bool("CIAM_PASSKEYS_OFFER_ENABLED", default=True)
# --- end passkeys ---

# Outbound calls (back-channel logout tokens, sessions_ctx.outbound) refuse loopback, private,
# link-local and reserved addresses unless this is on (development with local relying parties).
CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES = env.bool(
    "CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES", default=False
)

# --- Operators' console (console/, django-unfold) ---
# Dotted paths name console.theme functions unfold calls per request: brand name, logo and
# palette follow CIAM_BRAND_*, words the operator's language, links their permissions.
UNFOLD: dict[str, Any] = {
    "SITE_TITLE": "console.theme.site_title",
    "SITE_HEADER": "console.theme.site_header",
    "SITE_SUBHEADER": "console.theme.site_subheader",
    "SITE_ICON": "console.theme.site_icon",
    "SITE_SYMBOL": "shield_person",
    "SITE_URL": "/",
    "SHOW_LANGUAGES": True,
    "COLORS": {"primary": "console.theme.primary_palette"},
    "STYLES": ["console.theme.admin_stylesheet"],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": "console.theme.sidebar_navigation",
    },
    "DASHBOARD_CALLBACK": "console.dashboard.dashboard_callback",
}
# The admin's theme needs 'unsafe-eval' (Alpine.js) and inline styles: on /admin/ only.
MIDDLEWARE.append("console.middleware.AdminContentSecurityPolicyMiddleware")
# --- end console ---

# --- Portal: profile, email and phone changes ---
# Changing the email address (allauth): the new address is added unverified and becomes the
# primary (sign-in) address only once its code is confirmed; the old one is then removed and,
# with ACCOUNT_EMAIL_NOTIFICATIONS, told of the change (allauth email_changed notice).
ACCOUNT_CHANGE_EMAIL = True
# Back to the email page once the new address is confirmed.
ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL = "/accounts/email/"
# Text messages (accounts/sms.py): console (default), file (CIAM_SMS_FILE_PATH) or locmem
# (tests read accounts.sms.outbox); any other backend by its dotted path.
CIAM_SMS_BACKEND = env("CIAM_SMS_BACKEND", default="accounts.sms.ConsoleBackend")
CIAM_SMS_FILE_PATH = env("CIAM_SMS_FILE_PATH", default=str(VAR_DIR / "sms"))
# Changing the mobile number (accounts/phone): a 6-digit code sent to the new number.
CIAM_PHONE_CODE_SECONDS = env.int("CIAM_PHONE_CODE_SECONDS", default=600)
CIAM_PHONE_MAX_ATTEMPTS = env.int("CIAM_PHONE_MAX_ATTEMPTS", default=5)
CIAM_PHONE_RESEND_SECONDS = env.int("CIAM_PHONE_RESEND_SECONDS", default=30)
CIAM_PHONE_SENDS_PER_HOUR = env.int("CIAM_PHONE_SENDS_PER_HOUR", default=5)
# --- end portal profile ---

# --- Security notifications ---
# An email to the account's owner after every change of how it signs in: allauth's (password
# changed, set or reset; email address changed or removed) and the provider's
# (accounts/mfa/notices.py: two-step verification on or off, new recovery codes, a passkey
# added or removed, an email address added), in the customer's profile language (the locale
# claim) or else the language of the request that made the change.
ACCOUNT_EMAIL_NOTIFICATIONS = True
# --- end security notifications ---

# --- Audit log (audit/) ---
# The current request (address, browser, user) for entries recorded by signal receivers.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "audit.middleware.AuditRequestMiddleware",
)
# --- end audit ---

# --- Dashboard (console/dashboard.py, console/metrics.py) ---
# Counts sign-in page views and classifies each sign-in by method once its view has finished.
MIDDLEWARE.append("console.metrics.SignInMetricsMiddleware")
# --- end dashboard ---

# --- Portal layout (accounts/portal) ---
# The portal's overview on the home page: a summary per section, computed only when a
# template reads it (a lazy object).
TEMPLATES[0]["OPTIONS"]["context_processors"].append(
    "accounts.portal.context_processors.portal_overview"
)
# --- end portal layout ---

# --- Events: the transactional outbox (events/) ---
# Domain events are written with their change (events/app_settings.py documents each option).
# `manage.py events_prune` keeps them this many days (once every delivery finished).
CIAM_EVENTS_RETENTION_DAYS = env.int("CIAM_EVENTS_RETENTION_DAYS", default=30)
# Optional Redis Streams sink (`manage.py events_stream`): empty URL, no sink.
CIAM_EVENTS_STREAM_URL = env.str("CIAM_EVENTS_STREAM_URL", default="")
CIAM_EVENTS_STREAM_KEY = env.str("CIAM_EVENTS_STREAM_KEY", default="ciam:events")
CIAM_EVENTS_STREAM_MAXLEN = env.int("CIAM_EVENTS_STREAM_MAXLEN", default=100_000)
# What the stream's consumers may see: empty lists = facts only, no tagged personal values.
CIAM_EVENTS_STREAM_SCOPES = env.list("CIAM_EVENTS_STREAM_SCOPES", default=[])
CIAM_EVENTS_STREAM_PURPOSES = env.list("CIAM_EVENTS_STREAM_PURPOSES", default=[])
# A sign-in's user.signed_in is written once, at the end of its request, with its final method.
MIDDLEWARE.insert(
    MIDDLEWARE.index("sessions_ctx.middleware.SessionContextMiddleware") + 1,
    "events.middleware.SignInEventMiddleware",
)
# --- end events ---

# --- Webhooks (webhooks/): endpoints, delivery worker ---
# Standard Webhooks 1.0 deliveries by `manage.py events_worker` (webhooks/app_settings.py
# documents each option). A receiver has 15 s to answer; failures are retried on Svix's
# schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h: about 3 days) with jitter.
CIAM_WEBHOOKS_TIMEOUT_SECONDS = env.float("CIAM_WEBHOOKS_TIMEOUT_SECONDS", default=15.0)
CIAM_WEBHOOKS_RETRY_SCHEDULE = env.list(
    "CIAM_WEBHOOKS_RETRY_SCHEDULE",
    cast=float,
    default=[5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
)
CIAM_WEBHOOKS_CONCURRENCY = env.int("CIAM_WEBHOOKS_CONCURRENCY", default=8)
CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY = env.int(
    "CIAM_WEBHOOKS_PER_ENDPOINT_CONCURRENCY", default=4
)
CIAM_WEBHOOKS_SECRET_GRACE_HOURS = env.float("CIAM_WEBHOOKS_SECRET_GRACE_HOURS", default=24.0)
# Endpoint kind -> the function that builds its request (webhooks/formats.py).
CIAM_WEBHOOKS_FORMATTERS = {
    "webhook": "webhooks.formats.standard_webhook_request",
    "ssf": "ssf.delivery.set_request",
}
# --- end webhooks ---

# --- Shared Signals transmitter (ssf/) ---
# SSF 1.0 default_subjects of new streams: ALL (every customer of the receiving client) or
# NONE (only those added with subjects:add). ssf/app_settings.py documents each option.
CIAM_SSF_DEFAULT_SUBJECTS = env("CIAM_SSF_DEFAULT_SUBJECTS", default="ALL")
CIAM_SSF_MAX_STREAMS_PER_CLIENT = env.int("CIAM_SSF_MAX_STREAMS_PER_CLIENT", default=1)
CIAM_SSF_MIN_VERIFICATION_INTERVAL_SECONDS = env.int(
    "CIAM_SSF_MIN_VERIFICATION_INTERVAL_SECONDS", default=30
)
# --- end ssf ---

# --- Interactions and the unified profile (interactions/) ---
# POST /api/interactions/ (events:write) and GET /api/customers/<ref> (profile:read);
# interactions/app_settings.py documents each option (and the per-type default purposes).
CIAM_INTERACTIONS_MAX_BATCH = env.int("CIAM_INTERACTIONS_MAX_BATCH", default=500)
CIAM_INTERACTIONS_RETENTION_DAYS = env.int("CIAM_INTERACTIONS_RETENTION_DAYS", default=730)
# --- end interactions ---

# --- Personalization (personalization/) ---
# Interests, next items and contact windows from consented interactions (manage.py
# personalization_train); personalization/app_settings.py documents every option.
CIAM_PERSONALIZATION_MODEL = env("CIAM_PERSONALIZATION_MODEL", default="item_item")
CIAM_PERSONALIZATION_TIME_ZONE = env("CIAM_PERSONALIZATION_TIME_ZONE", default="America/Sao_Paulo")
CIAM_PERSONALIZATION_FULL_EVERY_HOURS = env.float(
    "CIAM_PERSONALIZATION_FULL_EVERY_HOURS", default=24.0
)
CIAM_PERSONALIZATION_HISTORY_DAYS = env.int("CIAM_PERSONALIZATION_HISTORY_DAYS", default=365)
# --- end personalization ---

# --- Live monitor (console/monitor/, Channels) ---
# An admin page (/admin/monitor/) fed over a WebSocket (/admin/monitor/ws/, ciam/asgi.py); its
# app only carries the permission "monitor.view_live_monitor" (console/monitor/app_settings.py
# documents the CIAM_MONITOR_* options).
INSTALLED_APPS += ["console.monitor"]
# The channel layer carries the monitor's messages from the process that committed an event to
# the processes holding sockets: in memory (one process only: ./dev run) unless a Redis URL is
# set; production with a WSGI and an ASGI process needs Redis (deploy/serve --asgi).
CIAM_CHANNEL_LAYER_URL = env("CIAM_CHANNEL_LAYER_URL", default="") or REDIS_URL
CHANNEL_LAYERS: dict[str, Any] = {
    "default": (
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [CIAM_CHANNEL_LAYER_URL],
                "prefix": env("CIAM_CHANNEL_LAYER_PREFIX", default="ciam"),
                # A monitor that stops reading loses messages, never blocks the publisher.
                "capacity": 500,
                "expiry": 30,
                # A socket whose process died leaves its membership behind until it expires:
                # an hour, renewed by every live socket at each periodic snapshot.
                "group_expiry": 3600,
            },
        }
        if CIAM_CHANNEL_LAYER_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}
CIAM_MONITOR_WINDOW_MINUTES = env.int("CIAM_MONITOR_WINDOW_MINUTES", default=15)
CIAM_MONITOR_SNAPSHOT_SECONDS = env.float("CIAM_MONITOR_SNAPSHOT_SECONDS", default=5.0)
CIAM_MONITOR_QUEUE_SIZE = env.int("CIAM_MONITOR_QUEUE_SIZE", default=1000)
# --- end live monitor ---

# --- Health and metrics (ciam/ops/) ---
# /metrics answers "Authorization: Bearer <CIAM_METRICS_TOKEN>" or CIAM_METRICS_NETWORKS
# (the client address as the provider sees it: CIAM_TRUSTED_PROXY_COUNT); others get a 404.
CIAM_METRICS_TOKEN = env("CIAM_METRICS_TOKEN", default="")
CIAM_METRICS_NETWORKS = env.list("CIAM_METRICS_NETWORKS", default=["127.0.0.0/8", "::1/128"])
# First in both lists: the time covers the whole chain.
MIDDLEWARE.insert(0, "ciam.ops.metrics.MetricsMiddleware")
CIAM_BACKCHANNEL_MIDDLEWARE.insert(0, "ciam.ops.metrics.MetricsMiddleware")
# Outside the metrics: the request id is bound for everything a request logs.
MIDDLEWARE.insert(0, "ciam.ops.logs.RequestIdMiddleware")
CIAM_BACKCHANNEL_MIDDLEWARE.insert(0, "ciam.ops.logs.RequestIdMiddleware")
# Probes and scrapes sent straight to granian over http are not redirected to https.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
# A Redis outage leaves /readyz at 200 "degraded" (the provider serves without it); set to
# make it a 503 instead.
CIAM_READYZ_REQUIRES_REDIS = env.bool("CIAM_READYZ_REQUIRES_REDIS", default=False)
CIAM_BACKCHANNEL_MIDDLEWARE.insert(
    CIAM_BACKCHANNEL_MIDDLEWARE.index("ciam.ops.metrics.MetricsMiddleware") + 1,
    "ciam.ops.outage.DatabaseOutageMiddleware",
)
# --- end health and metrics ---
