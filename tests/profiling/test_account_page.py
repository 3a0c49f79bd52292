"""The customer's profile in the account area (/account/profile/): every field they may
fill, validated by the schema, saved with provenance ``account``; and the claims a field
with a consent purpose, or a custom claim, releases."""

from __future__ import annotations

import pytest

from ciam.claims import user_claims
from ciam.oauth.claim_sources import claim_source_for
from consent.models import ConsentAction
from consent.services.ledger import consent_record
from profiling.models import FieldType, ProfileField, ProfileValue, Sensitivity, ValueSource
from profiling.schema import schema_forget
from profiling.services.values import profile_update
from tests.consent.purposes_helpers import make_purpose
from tests.factories import UserFactory

PAGE = "/account/profile/"


@pytest.fixture(autouse=True)
def fresh_schema():
    schema_forget()
    yield
    schema_forget()


def test_page_needs_sign_in(client, db):
    """Anonymous visitors are sent to the sign-in page."""
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_page_shows_values_and_saves_with_provenance(client, db):
    """The page shows the stored names; a valid date is saved in ISO form with source
    ``account``; the mobile number is shown with a link to its own page (changed by code
    there, tests/portal_profile); the account home page links to it."""
    user = UserFactory()
    client.force_login(user)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Ana"' in html
    assert "Mobile phone" in html
    assert 'href="/account/phone/"' in html
    assert PAGE in client.get("/").content.decode()

    response = client.post(
        PAGE, {"given_name": "Ana", "family_name": "Silva", "birthdate": "25/12/1990"}
    )
    assert response.status_code == 302
    value = ProfileValue.objects.get(user=user, field__key="birthdate")
    assert value.value == "1990-12-25"
    assert value.source == ValueSource.ACCOUNT
    # Unchanged names keep where they came from.
    assert ProfileValue.objects.get(user=user, field__key="given_name").source == ValueSource.ADMIN


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"website": "javascript:alert(1)"}, "web address"),
        ({"birthdate": "2999-01-01"}, "future"),
        ({"given_name": "asdf"}, "real answer"),
        ({"address__postal_code": "123"}, "CEP"),
    ],
)
def test_invalid_answers_save_nothing(client, db, data, message):
    """A refused answer re-shows the page (400) with the field's message; nothing changes."""
    user = UserFactory()
    client.force_login(user)
    response = client.post(PAGE, {"given_name": "Ana", "family_name": "Silva", **data})
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    assert ProfileValue.objects.filter(user=user).count() == 2


def test_empty_field_removes_its_value(client, db):
    """Clearing a field removes its value and provenance."""
    user = UserFactory()
    client.force_login(user)
    response = client.post(PAGE, {"given_name": "Ana", "family_name": ""})
    assert response.status_code == 302
    assert not ProfileValue.objects.filter(user=user, field__key="family_name").exists()
    assert user.profile.__class__.objects.get(user=user).values == {"given_name": "Ana"}


def test_purpose_bound_field_needs_the_purpose(client, db):
    """A field whose consent purpose the customer has not granted is neither shown nor
    released as a claim; once granted, it is shown and its custom claim is released with
    the scope the field names, or when requested one by one (the claims parameter)."""
    purpose = make_purpose("style-tips")
    ProfileField.objects.create(
        key="home_style",
        type=FieldType.TEXT,
        label_en="Your home's style",
        claim="https://shop.example/style",
        sensitivity=Sensitivity.PERSONAL,
        purpose=purpose,
    )
    schema_forget()
    user = UserFactory()
    client.force_login(user)
    assert "Your home&#x27;s style" not in client.get(PAGE).content.decode()
    profile_update(user=user, changes={"home_style": "Rustic"}, source=ValueSource.API)
    user.refresh_from_db()
    claims = user_claims(claim_source_for(user), scopes=["openid", "profile"])
    assert "https://shop.example/style" not in claims

    consent_record(
        user=user, version=purpose.versions.get(), action=ConsentAction.GRANTED, channel="portal"
    )
    assert "Your home&#x27;s style" in client.get(PAGE).content.decode()
    user.refresh_from_db()
    source = claim_source_for(user)
    assert user_claims(source, scopes=["openid", "profile"])["https://shop.example/style"] == (
        "Rustic"
    )
    assert "https://shop.example/style" not in user_claims(source, scopes=["openid"])
    requested = {"userinfo": {"https://shop.example/style": None}}
    assert user_claims(source, scopes=["openid"], claims_request=requested) == {
        "sub": user.public_id,
        "https://shop.example/style": "Rustic",
    }
    assert user_claims(source, scopes=["openid", "profile"])["profile_completeness"] == round(
        100 * 3 / 13
    )
