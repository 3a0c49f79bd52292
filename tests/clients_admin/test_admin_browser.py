"""In a browser, in English and in Brazilian Portuguese: an operator adds a web client by
kind and rotates its secret."""

from __future__ import annotations

import pytest
from oauth2_provider.models import get_application_model

from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Application = get_application_model()


def test_operator_adds_a_web_client_and_rotates_its_secret(open_tab, issuer):
    """From the client list's "Add by kind", a web application: the kind is chosen, the
    secret shown once; then "Rotate secret", confirmed, shows the new one once and keeps the
    old one for the grace period."""
    operator = UserFactory(email="clients-root@example.com", is_staff=True, is_superuser=True)
    for language in ("en", "pt-br"):
        tab = open_tab(locale="pt-BR" if language == "pt-br" else "en-US")
        page = tab.page
        page.context.add_cookies([{"name": "ciam_language", "value": language, "url": issuer}])
        tab.goto("/admin/login/")
        page.fill("input[name=username]", operator.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("button[type=submit], input[type=submit]").first.click()
        page.wait_for_load_state()
        tab.goto("/admin/ciam/application/")
        assert page.locator("html").get_attribute("lang") == language
        add_web = page.locator("a[href$='/add-web/']").first.get_attribute("href")
        tab.goto(add_web)
        page.wait_for_load_state()
        assert "kind=web" in page.url
        assert page.locator("input[name=kind][value=web]").is_checked()
        assert page.locator("input[name=hash_client_secret]").count() == 0
        name = f"Shop {language}"
        page.fill("input[name=name]", name)
        page.fill("textarea[name=redirect_uris]", f"https://shop-{language}.example/cb")
        client_id = page.locator("input[name=client_id]").input_value()
        secret = page.locator("input[name=client_secret]").input_value()
        tab.shot(f"clients-add-web-{language}")
        page.locator("button[name=_save], input[name=_save]").first.click()
        page.wait_for_load_state()
        assert secret in page.locator("body").inner_text()
        stored = Application.objects.get(client_id=client_id)
        assert (stored.kind, stored.client_type) == ("web", "confidential")
        assert secret not in stored.client_secret

        tab.goto(f"/admin/ciam/application/{stored.pk}/change/")
        assert secret not in page.content()
        rotate = page.locator("a[href$='/rotate-secret/']").first.get_attribute("href")
        tab.goto(rotate)
        tab.shot(f"clients-rotate-confirm-{language}")
        page.locator("button[name=rotate]").click()
        page.wait_for_load_state()
        assert f"/admin/ciam/application/{stored.pk}/change/" in page.url
        rotated = Application.objects.get(pk=stored.pk)
        assert rotated.previous_client_secret == stored.client_secret
        assert rotated.client_secret != stored.client_secret
        body = page.locator("body").inner_text()
        assert client_id in body
        tab.shot(f"clients-rotated-{language}")
