"""Options of the session context, read from settings named ``CIAM_SESSIONS_<NAME>``."""

from __future__ import annotations

from collections.abc import Iterable

from common.app_settings import BaseAppSettings, Setting


def _dotted_paths(value: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part for part in value.replace(",", " ").split() if part)
    return tuple(str(part) for part in value)


class AppSettings(BaseAppSettings):
    prefix = "CIAM_SESSIONS_"

    REAUTHENTICATION_MAX_FAILURES = Setting(
        int,
        5,
        "Wrong passwords or codes allowed when confirming it is you before a sensitive change "
        "(any page: two-step verification, passkeys), per user and per client address...",
    )
    REAUTHENTICATION_WINDOW_SECONDS = Setting(
        int, 300, "...within this many seconds; then HTTP 429 until the window ends."
    )
    SECOND_FACTOR_CHECKS = Setting(
        _dotted_paths,
        (),
        "Functions, by dotted path, each called as ``check(request=request)`` and answering "
        "True while the session has not proven a second factor its user set up "
        "(policy.session_second_factor_missing). Named, not imported: this app knows no "
        "sign-in method.",
    )

    # --- session lifetime (services/sessions.py) ---
    IDLE_DAYS = Setting(
        int,
        30,
        "Keep me signed in: a session ends after this many days without use (sliding)...",
    )
    ABSOLUTE_DAYS = Setting(
        int, 90, "...and this many days after sign-in, whatever the use (absolute)."
    )
    BROWSER_SESSION_IDLE_MINUTES = Setting(
        int,
        720,
        "Without keep me signed in: the session ends when the browser closes, or after this "
        "many minutes without use.",
    )
    KEEP_SIGNED_IN_DEFAULT = Setting(
        bool,
        True,
        "Keep me signed in when the sign-in method offered no choice (emailed code, social).",
    )
    LAST_SEEN_INTERVAL_SECONDS = Setting(
        int,
        300,
        "A session's last-seen time is written at most this often (no write per request).",
    )
    DEVICE_COOKIE_DAYS = Setting(int, 400, "Lifetime of the device cookie (browsers cap at 400).")
    STEP_UP_URL = Setting(
        str,
        "stepup:session",
        "URL name of the page where a session owing a step-up (risk policy) gives it.",
    )
    STEP_UP_RESOLVERS = Setting(
        _dotted_paths,
        (),
        "Functions, by dotted path, each called as "
        "``resolver(request=request, since=..., amr_before=...)`` "
        "and answering the RFC 8176 method by which the session already met a pending step-up "
        "(a passkey sign-in, the authenticator code given after the decision), or an empty "
        "string. Named, not imported: this app knows no sign-in method.",
    )
    STEP_UP_EXEMPT_VIEWS = Setting(
        _dotted_paths,
        (),
        "URL names a session owing a step-up may still open (the step-up pages themselves).",
    )
    # --- places (geo.py) ---
    GEOIP_CITY_DATABASE = Setting(
        str, "", "Path of a MaxMind-format City database (GeoLite2-City.mmdb); empty: no places."
    )
    GEOIP_ASN_DATABASE = Setting(
        str, "", "Path of a MaxMind-format ASN database (GeoLite2-ASN.mmdb); empty: no ASN."
    )
    # --- risk engine (risk/) ---
    RISK_ASSESSORS = Setting(
        _dotted_paths,
        (
            "sessions_ctx.risk.assessors.bad_address",
            "sessions_ctx.risk.assessors.new_device",
            "sessions_ctx.risk.assessors.new_network",
            "sessions_ctx.risk.assessors.new_country",
            "sessions_ctx.risk.assessors.new_asn",
            "sessions_ctx.risk.assessors.impossible_travel",
            "sessions_ctx.risk.assessors.user_agent_changed",
            "sessions_ctx.risk.assessors.velocity",
            "sessions_ctx.risk.assessors.failed_attempts",
        ),
        "The assessors run on each sign-in and context change, by dotted path; each is called "
        "as ``assessor(context=..., history=..., trigger=...)`` and returns findings.",
    )
    BAD_NETWORKS = Setting(
        _dotted_paths,
        (),
        "Known-bad addresses and networks (CIDR), e.g. 203.0.113.0/24.",
    )
    BAD_NETWORK_FILES = Setting(
        _dotted_paths,
        (),
        "Files of known-bad networks, one CIDR per line, ``#`` or ``;`` comments (the format "
        "of Spamhaus DROP and FireHOL lists); read again when a file changes.",
    )
    IMPOSSIBLE_TRAVEL_KMH = Setting(
        int, 1000, "Faster than this between two sign-ins' places is impossible travel."
    )
    VELOCITY_SIGN_INS_PER_HOUR = Setting(
        int, 10, "Sign-ins of one account within an hour from which velocity is a finding."
    )
    FAILED_ATTEMPTS_THRESHOLD = Setting(
        int, 3, "Failed password attempts before a success from which it is a finding."
    )


app_settings = AppSettings()


class OutboundSettings(BaseAppSettings):
    """Calls this provider makes to servers it is told about (sessions_ctx.outbound)."""

    prefix = "CIAM_OUTBOUND_"

    ALLOW_PRIVATE_ADDRESSES = Setting(
        bool,
        False,
        "Let outbound calls reach loopback, private, link-local, multicast and reserved "
        "addresses (development and tests; cloud metadata addresses stay refused).",
    )


outbound_settings = OutboundSettings()


class SignInSettings(BaseAppSettings):
    """Password sign-in throttling (services/password_attempts.py), read from settings named
    ``CIAM_SIGNIN_<NAME>``.

    Wrong passwords are counted per (account, client address) pair and per client address,
    never per account alone (anyone could then lock its customer out), and never per
    successful sign-in (customers behind one carrier-grade NAT share an address). Past the
    free attempts of a counter's window, each wrong password makes the next attempt wait:
    ``BACKOFF_SECONDS``, doubled with every attempt since, at most ``BACKOFF_MAX_SECONDS``
    (HTTP 429 with Retry-After meanwhile).
    """

    prefix = "CIAM_SIGNIN_"

    FAILURES_PER_ACCOUNT_AND_ADDRESS = Setting(
        int,
        5,
        "Wrong passwords for one account from one client address before the back-off starts "
        "for that pair (0: no such counter)...",
    )
    ACCOUNT_AND_ADDRESS_WINDOW_SECONDS = Setting(
        int,
        86400,
        "...counted within this many seconds from the first; a right password from the pair "
        "forgets its count.",
    )
    FAILURES_PER_ADDRESS = Setting(
        int,
        100,
        "Wrong passwords from one client address, for any accounts, before the back-off "
        "starts for that address (0: no such counter); an IPv6 client counts as its "
        "ALLAUTH_RATE_LIMIT_IPV6_PREFIX network...",
    )
    ADDRESS_WINDOW_SECONDS = Setting(
        int, 3600, "...counted within this many seconds from the first."
    )
    BACKOFF_SECONDS = Setting(
        int, 2, "The first wait once a counter's free attempts are spent; it doubles with each."
    )
    BACKOFF_MAX_SECONDS = Setting(int, 900, "The longest wait.")
    ATTEMPTS_PER_ADDRESS_PER_MINUTE = Setting(
        int,
        0,
        "Password sign-ins, right or wrong, from one client address in a minute; more are "
        "HTTP 429 until the minute ends (0: no limit; a carrier-grade NAT puts many customers "
        "behind one address).",
    )


signin_settings = SignInSettings()
