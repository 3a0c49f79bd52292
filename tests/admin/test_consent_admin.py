"""Operators manage purposes and versions in admin and read the ledger there, read-only."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from consent.models import ConsentRecord, Purpose, PurposeVersion
from tests.consent.test_purposes import grant, make_application, make_purpose, new_version

HOST = {"HTTP_HOST": "localhost"}


def form_errors(response) -> list[str]:
    return re.findall(r"errorlist[^<]*<li>([^<]*)", response.content.decode())


@pytest.fixture
def operator_client(client, db):
    operator = get_user_model().objects.create_superuser(
        email="operator@example.com", password="operator-password-1"
    )
    client.force_login(operator)
    return client


@pytest.fixture
def ledger(user):
    purpose = make_purpose("terms")
    new_version(purpose, publish=None)
    return grant(user, purpose, make_application(name="Partner Shop"))


@pytest.mark.parametrize(
    "url",
    [
        "/admin/consent/consent/",
        "/admin/consent/purpose/",
        "/admin/consent/purpose/add/",
        "/admin/consent/purposeversion/",
        "/admin/consent/purposeversion/add/",
        "/admin/consent/consentrecord/",
        "/admin/consent/consentrecord/?action__exact=granted&channel__exact=signin",
        "/admin/consent/consentrecord/?q=user",
    ],
)
def test_consent_admin_pages_render(operator_client, ledger, url):
    """The consent pages render for an operator, filters and search included."""
    assert operator_client.get(url, **HOST).status_code == 200


def test_change_pages_render(operator_client, ledger):
    """A purpose (with its clients inline), a published and a draft version, and a record."""
    purpose = ledger.purpose
    draft = PurposeVersion.objects.get(purpose=purpose, published_at__isnull=True)
    for url in (
        f"/admin/consent/purpose/{purpose.pk}/change/",
        f"/admin/consent/purposeversion/{ledger.version_id}/change/",
        f"/admin/consent/purposeversion/{draft.pk}/change/",
        f"/admin/consent/consentrecord/{ledger.pk}/change/",
    ):
        assert operator_client.get(url, **HOST).status_code == 200, url


def test_ledger_search_by_email_finds_the_users_records(operator_client, ledger, user):
    """Search by the user's email lists their records."""
    page = operator_client.get("/admin/consent/consentrecord/", {"q": user.email}, **HOST)
    assert page.context["cl"].result_count == 1
    other = operator_client.get("/admin/consent/consentrecord/", {"q": "nobody@x"}, **HOST)
    assert other.context["cl"].result_count == 0


def test_ledger_is_read_only_in_admin(operator_client, ledger):
    """No add, change or delete of records, not even for a superuser."""
    assert operator_client.get("/admin/consent/consentrecord/add/", **HOST).status_code == 403
    url = f"/admin/consent/consentrecord/{ledger.pk}/"
    assert operator_client.get(url + "delete/", **HOST).status_code == 403
    response = operator_client.post(url + "change/", {"action": "withdrawn"}, **HOST)
    assert response.status_code == 403
    assert ConsentRecord.objects.get(pk=ledger.pk).action == "granted"
    page = operator_client.get("/admin/consent/consentrecord/", **HOST).content.decode()
    assert "delete_selected" not in page


def test_publishing_a_draft_as_material_change(operator_client, ledger):
    """The action publishes a draft as a material change; it becomes the current version."""
    draft = PurposeVersion.objects.get(purpose=ledger.purpose, published_at__isnull=True)
    response = operator_client.post(
        "/admin/consent/purposeversion/",
        {"action": "publish_material", "_selected_action": [draft.pk]},
        follow=True,
        **HOST,
    )
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.published_at is not None
    assert draft.change == "material"
    assert ledger.purpose.current_version() == draft


def test_publishing_as_minor_change_and_refusing_republication(operator_client, ledger):
    """A minor publication is recorded as minor; publishing a published version again is
    refused with a message, and it stays as it was."""
    draft = PurposeVersion.objects.get(purpose=ledger.purpose, published_at__isnull=True)
    operator_client.post(
        "/admin/consent/purposeversion/",
        {"action": "publish_minor", "_selected_action": [draft.pk]},
        **HOST,
    )
    draft.refresh_from_db()
    assert draft.change == "minor"
    response = operator_client.post(
        "/admin/consent/purposeversion/",
        {"action": "publish_material", "_selected_action": [draft.pk]},
        follow=True,
        **HOST,
    )
    assert any("already published" in str(m) for m in response.context["messages"])
    draft.refresh_from_db()
    assert draft.change == "minor"


def test_published_version_is_read_only_and_draft_is_editable(operator_client, ledger):
    """Posting to a published version changes nothing; a draft's words can be edited."""
    published = ledger.version
    operator_client.post(
        f"/admin/consent/purposeversion/{published.pk}/change/",
        {"title_en": "Rewritten", "summary_en": "", "text_en": ""},
        **HOST,
    )
    published.refresh_from_db()
    assert published.title_en == "terms v1"
    assert (
        operator_client.get(
            f"/admin/consent/purposeversion/{published.pk}/delete/", **HOST
        ).status_code
        == 403
    )

    listing = operator_client.get("/admin/consent/purposeversion/", **HOST).content.decode()
    assert "delete_selected" not in listing
    assert "publish_material" in listing

    draft = PurposeVersion.objects.get(purpose=ledger.purpose, published_at__isnull=True)
    response = operator_client.post(
        f"/admin/consent/purposeversion/{draft.pk}/change/",
        {
            "title_en": "Terms, clearer",
            "summary_en": "Short.",
            "text_en": "Long.",
            "title_pt_br": "Termos",
            "summary_pt_br": "",
            "text_pt_br": "",
            "policy_url": "",
        },
        **HOST,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    draft.refresh_from_db()
    assert draft.title_en == "Terms, clearer"


def test_adding_a_purpose_with_a_client_and_a_version(operator_client, db):
    """A purpose is added with a client inline; a new version gets the next number."""
    application = make_application(name="Shop")
    response = operator_client.post(
        "/admin/consent/purpose/add/",
        {
            "key": "newsletter",
            "kind": "marketing_email",
            "legal_basis": "consent",
            "data_categories": '["email"]',
            "active": "on",
            "client_purposes-TOTAL_FORMS": "1",
            "client_purposes-INITIAL_FORMS": "0",
            "client_purposes-0-application": str(application.pk),
            "client_purposes-0-required": "",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
        **HOST,
    )
    assert response.status_code == 302, form_errors(response)
    purpose = Purpose.objects.get(key="newsletter")
    assert list(purpose.clients.all()) == [application]
    response = operator_client.post(
        "/admin/consent/purposeversion/add/",
        {
            "purpose": str(purpose.pk),
            "title_en": "News by email",
            "summary_en": "Weekly.",
            "text_en": "",
            "title_pt_br": "",
            "summary_pt_br": "",
            "text_pt_br": "",
            "policy_url": "",
        },
        **HOST,
    )
    assert response.status_code == 302, form_errors(response)
    version = PurposeVersion.objects.get(purpose=purpose)
    assert version.number == 1
    assert version.published_at is None
