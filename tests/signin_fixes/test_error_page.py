"""The error page of a request that cannot go back to its application speaks the reader's
language: oauthlib's English descriptions are translated, the OAuth error code stays."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from ciam.interaction.pages import error_description_for_people

pytestmark = pytest.mark.django_db

UNKNOWN_CLIENT = {
    "en": "is not registered with us (unknown client_id)",
    "pt-br": "não está registrado conosco (client_id desconhecido)",
}
WRONG_REDIRECT = {
    "en": "is not registered for this application (redirect_uri does not match)",
    "pt-br": "não está registrado para este aplicativo (o redirect_uri não confere)",
}


def browser(language: str) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def authorize(client: Client, **params: str):
    return client.get(
        "/authorize", {"response_type": "code", "scope": "openid", "state": "s1", **params}
    )


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_unknown_client_and_wrong_redirect_uri_read_in_the_page_language(language, web_client):
    """An unknown client_id and an unregistered redirect_uri get the error page (400, not a
    redirect), its explanation in the page's language, oauthlib's English text gone, and the
    OAuth error code shown as it is."""
    client = browser(language)
    response = authorize(client, client_id="no-such-client", redirect_uri=web_client.redirect_uri)
    html = response.content.decode()
    assert response.status_code == 400
    assert UNKNOWN_CLIENT[language] in html
    assert "Invalid client_id parameter value." not in html
    assert "<code>invalid_request</code>" in html

    response = authorize(
        client, client_id=web_client.client_id, redirect_uri="https://evil.example/cb"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert WRONG_REDIRECT[language] in html
    assert "Mismatching redirect URI." not in html
    assert "<code>invalid_request</code>" in html
    if language == "pt-br":
        assert 'lang="pt-br"' in html


def test_duplicate_parameters_and_other_texts():
    """oauthlib's "Duplicate x parameter." names the parameter; a text that is not
    oauthlib's (already translated) is left as it is."""
    with translation.override("en"):
        assert error_description_for_people("Duplicate client_id parameter.") == (
            "The client_id parameter appears more than once in the request."
        )
        assert error_description_for_people("This application no longer exists.") == (
            "This application no longer exists."
        )
        assert error_description_for_people("") == ""
