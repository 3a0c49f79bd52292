"""Links sent by email are built from CIAM_ISSUER, never from the request's Host header (a
client chooses it, within ALLOWED_HOSTS): a password reset asked for through another allowed
host still links to the issuer."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("host", "name"),
    [("127.0.0.1", "127.0.0.1"), ("localhost:9999", "localhost"), ("[::1]", "::1")],
)
def test_password_reset_link_names_the_issuer_whatever_the_host(settings, host, name):
    settings.CIAM_ISSUER = "https://id.example.test"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "id.example.test"]
    user = UserFactory(email="ana@example.com")
    client = Client(HTTP_HOST=host)
    page = client.get("/accounts/password/reset/")
    assert page.status_code == 200
    response = client.post("/accounts/password/reset/", {"email": user.email})
    assert response.status_code in (302, 303), response.status_code
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    links = re.findall(r"https?://[^\s\"'<>]+", body)
    reset = [link for link in links if "/accounts/password/reset/key/" in link]
    assert reset, body
    assert all(link.startswith("https://id.example.test/") for link in reset)
    assert name not in "".join(reset)
