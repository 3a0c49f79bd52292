"""A client's sign-in pages wear its name, logo and colour."""

from __future__ import annotations

import pytest
from oauth2_provider.models import get_application_model

from tests.factories import make_client

Application = get_application_model()
LOGO = "https://cdn.shop.example/logo.png"


def _sign_in_page(client, registered, redirect_uri: str):
    response = client.get(
        "/authorize",
        {
            "client_id": registered.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "state": "s",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "/accounts/login/" in response.request["PATH_INFO"]
    return response


@pytest.mark.django_db
def test_sign_in_page_of_a_first_party_client_wears_its_brand(client, settings):
    """Its name, logo and colour (brand.css?client=...) on its sign-in page; the provider's
    on a sign-in page of nobody's, and for an unknown or malformed client parameter."""
    settings.CIAM_BRAND_NAME = "Acme ID"
    redirect_uri = "https://shop.example.test/cb"
    registered = make_client("web", name="Shop", redirect_uris=[redirect_uri], first_party=True)
    Application.objects.filter(pk=registered.application_id).update(
        logo_url=LOGO, brand_color="#aa3300"
    )
    page = _sign_in_page(client, registered, redirect_uri)
    html = page.content.decode()
    assert LOGO in html
    assert page.context["brand_name"] == "Shop"
    css_url = page.context["brand_css_url"]
    assert css_url == f"/brand.css?client={registered.client_id}"
    css = client.get(css_url)
    assert css.status_code == 200
    assert b"--brand-color: #aa3300" in css.content

    default_page = client.get("/accounts/login/")
    assert default_page.context["brand_name"] == "Acme ID"
    assert default_page.context["brand_css_url"] == "/brand.css"
    assert LOGO not in default_page.content.decode()
    bogus_next = client.get("/accounts/login/", {"next": "/authorize/resume/nope"})
    assert bogus_next.context["brand_name"] == "Acme ID"
    for value in ("nobody", "\x00", "%", "a" * 300, "<script>"):
        response = client.get("/brand.css", {"client": value})
        assert response.status_code == 200
        assert b"#aa3300" not in response.content


@pytest.mark.django_db
def test_third_party_client_wears_its_brand_too(client, settings):
    """A third-party client's sign-in pages also wear its name, logo and colour; the
    provider's name stays available to the pages that must name it (the consent page says
    the client is not part of the provider)."""
    settings.CIAM_BRAND_NAME = "Acme ID"
    redirect_uri = "https://partner.example.test/cb"
    registered = make_client("web", name="Partner", redirect_uris=[redirect_uri])
    Application.objects.filter(pk=registered.application_id).update(
        logo_url=LOGO, brand_color="#aa3300"
    )
    page = _sign_in_page(client, registered, redirect_uri)
    assert page.context["brand_name"] == "Partner"
    assert page.context["provider_brand_name"] == "Acme ID"
    assert page.context["brand_css_url"] == f"/brand.css?client={registered.client_id}"
    assert b"#aa3300" in client.get(f"/brand.css?client={registered.client_id}").content


@pytest.mark.django_db
def test_branding_never_breaks_an_error_page(client):
    """A request with too many parameters gets the readable 400 page, branded as the
    provider (the branding does not read the parameters again)."""
    query = "&".join(f"p{number}=x" for number in range(2000))
    response = client.get(f"/accounts/login/?{query}")
    assert response.status_code == 400
