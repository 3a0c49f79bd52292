"""In a browser: an operator opens a customer's unified view from the customer page; it fits
a desktop and a 375 px phone screen."""

from __future__ import annotations

import pytest
from django.utils import timezone
from oauth2_provider.models import get_application_model

from interactions.models import Interaction
from tests.factories import PASSWORD, UserFactory, make_client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_opens_the_unified_view_on_desktop_and_phone(open_tab, customer):
    """The "Unified view" button of the customer page opens the view with its summary,
    profile, consents, sign-ins, sessions and timeline; at 375 px nothing overflows the
    page sideways (wide tables scroll inside their panel)."""
    store = get_application_model().objects.get(
        client_id=make_client("service", name="Store").client_id
    )
    for minutes, (kind, purpose, properties) in enumerate(
        [
            (
                "purchase",
                "personalization",
                {"order_id": "A-1", "amount": "199.90", "currency": "BRL"},
            ),
            (
                "page_view",
                "analytics",
                {"url": "https://shop.example.test/p/42?utm=very-long-value"},
            ),
            ("campaign_click", "analytics", {"campaign": "black-friday"}),
        ]
    ):
        Interaction.objects.create(
            user=customer,
            client=store,
            type=kind,
            channel="store" if kind == "purchase" else "web",
            occurred_at=timezone.now() - timezone.timedelta(minutes=minutes),
            purpose=purpose,
            idempotency_key=f"k{minutes}",
            properties=properties,
        )
    operator = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    tab = open_tab()
    page = tab.page
    tab.goto("/admin/login/")
    page.fill("input[name=username]", operator.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("button[type=submit], input[type=submit]").first.click()
    page.wait_for_load_state()
    tab.goto(f"/admin/accounts/user/{customer.pk}/change/")
    page.locator(f"a[href$='/{customer.pk}/unified-view/']").first.click()
    page.wait_for_load_state()
    for section in ("summary", "profile", "consents", "sign-ins", "sessions", "timeline"):
        assert page.locator(f"#unified-{section}").is_visible(), section
    assert "BRL 199.90" in page.locator("#unified-summary").inner_text()
    assert page.locator("#unified-timeline tr[data-interaction]").count() == 3
    tab.shot("interactions-unified-view")
    page.set_viewport_size({"width": 375, "height": 800})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, overflow
