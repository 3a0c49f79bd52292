"""The profile page (/account/profile/): every field the customer may fill, saved through
profile_update with source ``account``, each value shown with where it came from, in plain
words of the customer's language; the mobile number only through its own page."""

from __future__ import annotations

import datetime

import pytest
from allauth.socialaccount.models import SocialApp
from django.test import Client
from django.utils import timezone

from ciam.models import Application
from profiling.models import ProfileValue, ValueSource
from profiling.services.values import profile_update
from tests.factories import UserFactory, make_client

PAGE = "/account/profile/"


def _at(user, key: str, when: datetime.datetime) -> None:
    ProfileValue.objects.filter(user=user, field__key=key).update(collected_at=when)


def _page(client, language: str = "en") -> str:
    response = client.get(PAGE, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def user_with_values(db):
    user = UserFactory()  # names written by the create_user service (source admin)
    registered = make_client("service", name="Loja Exemplo")
    client_app = Application.objects.get(client_id=registered.client_id)
    profile_update(
        user=user,
        changes={"nickname": "Aninha"},
        source=ValueSource.SOCIAL,
        source_detail="google",
    )
    profile_update(
        user=user, changes={"website": "https://ana.example"}, source="api", client=client_app
    )
    profile_update(
        user=user, changes={"gender": "female"}, source=ValueSource.IMPORT, check_junk=False
    )
    profile_update(user=user, changes={"birthdate": "1990-05-04"}, source=ValueSource.QUESTION)
    this_year = timezone.localdate().year
    december = timezone.make_aware(datetime.datetime(this_year, 12, 3, 12))
    _at(user, "birthdate", december)
    _at(user, "given_name", december)
    _at(user, "family_name", timezone.make_aware(datetime.datetime(2020, 1, 15, 12)))
    return user


def test_provenance_in_english(client, user_with_values):
    """Each value says where it came from: the social provider by name, the client by
    name, "imported", "added by our staff on 3 Dec", "you added this on 3 Dec"."""
    client.force_login(user_with_values)
    html = _page(client, "en")
    assert "From Google<" in html
    assert "From Loja Exemplo<" in html
    assert "Imported on" in html
    assert "Added by our staff on 3 Dec<" in html
    assert "Added by our staff on 15 Jan 2020<" in html
    assert "You added this on 3 Dec<" in html


def test_provenance_in_portuguese(client, user_with_values):
    """The same words in Brazilian Portuguese, months in lower case."""
    client.force_login(user_with_values)
    html = _page(client, "pt-BR")
    assert "Via Google<" in html
    assert "Via Loja Exemplo<" in html
    assert "Você informou em 3 de dez.<" in html
    assert "Adicionado pela nossa equipe em 15 de jan. de 2020<" in html


def test_social_provider_named_by_its_app(client, db):
    """A provider configured as an app (OpenID Connect) is named by the app's name."""
    SocialApp.objects.create(
        provider="openid_connect", provider_id="acme-id", name="Acme ID", client_id="x"
    )
    user = UserFactory()
    profile_update(
        user=user,
        changes={"nickname": "Aninha"},
        source=ValueSource.SOCIAL,
        source_detail="acme-id",
    )
    client.force_login(user)
    assert "From Acme ID<" in _page(client)


def test_saves_with_source_account_and_keeps_unchanged_provenance(client, db):
    """A changed field is saved with source ``account``; unchanged ones keep theirs."""
    user = UserFactory()
    client.force_login(user)
    response = client.post(PAGE, {"given_name": "Ana", "family_name": "Souza"})
    assert response.status_code == 302
    assert ProfileValue.objects.get(user=user, field__key="family_name").source == "account"
    assert ProfileValue.objects.get(user=user, field__key="given_name").source == "admin"
    assert "You added this on" in _page(client)


def test_phone_is_shown_not_edited_here(client, db):
    """The mobile number is shown with its status and a link to its own page; a number
    posted to the profile page is ignored."""
    user = UserFactory()
    profile_update(
        user=user, changes={"phone_number": "+5511987654321"}, source=ValueSource.ACCOUNT
    )
    client.force_login(user)
    html = _page(client)
    assert "+55 11 98765-4321" in html
    assert "Not verified" in html
    assert 'href="/account/phone/"' in html
    assert 'name="phone_number"' not in html
    response = client.post(
        PAGE, {"given_name": "Ana", "family_name": "Silva", "phone_number": "11 91234-5678"}
    )
    assert response.status_code == 302
    assert user.profile.__class__.objects.get(user=user).values["phone_number"] == (
        "+5511987654321"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"birthdate": "2999-01-01"}, "future"),
        ({"birthdate": "31/02/2000"}, "day/month/year"),
        ({"given_name": "asdf"}, "real answer"),
        ({"given_name": "x" * 600}, "at most"),
        ({"given_name": "Ana\u202e"}, "characters"),
        ({"website": "javascript:alert(1)"}, "web address"),
        ({"address__postal_code": "123"}, "CEP"),
        ({"zoneinfo": "Mars/Olympus"}, "time zone"),
    ],
)
def test_malformed_answers_are_refused(client, db, data, message):
    """A refused answer re-shows the page (400) with the field's message; nothing saved."""
    user = UserFactory()
    client.force_login(user)
    response = client.post(PAGE, {"given_name": "Ana", "family_name": "Silva", **data})
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    assert ProfileValue.objects.filter(user=user).count() == 2


def test_csrf_is_enforced(db):
    """A post without the CSRF token is refused (403), nothing saved."""
    user = UserFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post(PAGE, {"given_name": "Eva", "family_name": "Silva"})
    assert response.status_code == 403
    assert ProfileValue.objects.get(user=user, field__key="given_name").value == "Ana"


def test_other_methods_are_refused(client, db):
    """PUT or DELETE on the page is 405, not an error."""
    client.force_login(UserFactory())
    assert client.put(PAGE).status_code == 405
    assert client.delete(PAGE).status_code == 405
