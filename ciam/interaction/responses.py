"""Authorization responses that go back to the client's redirect_uri (RFC 6749 4.1.2)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oauth2_provider.settings import oauth2_settings


def with_issuer(url: str) -> str:
    """RFC 9207: every authorization response names its issuer."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    query.append(("iss", oauth2_settings.OIDC_ISS_ENDPOINT))
    return urlunsplit(parts._replace(query=urlencode(query)))


def error_redirect_url(
    redirect_uri: str, error: str, description: str = "", state: str = ""
) -> str:
    """``redirect_uri`` with an error response (RFC 6749 4.1.2.1) and the issuer."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append(("error", error))
    if description:
        query.append(("error_description", description))
    if state:
        query.append(("state", state))
    return with_issuer(urlunsplit(parts._replace(query=urlencode(query))))
