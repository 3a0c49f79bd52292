"""PreparedLookup: the same instance as the queryset's first(), compiled once per connection."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken, get_application_model

from ciam.models import AuthorizationContext
from ciam.oauth.lookups import access_token_with_claim_sources
from ciam.oauth.prepared import PreparedLookup
from ciam.oauth.tokens import code_hash
from profiling.models import ValueSource
from profiling.services.values import profile_update
from tests.factories import UserFactory, make_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    user = UserFactory()
    profile_update(user=user, changes={"nickname": "Ana"}, source=ValueSource.IMPORT)
    application = get_application_model().objects.get(
        client_id=make_client("web", redirect_uris=["https://rp.example/cb"]).client_id
    )
    access_token = AccessToken(
        user=user,
        application=application,
        scope="openid profile",
        expires=timezone.now() + timedelta(hours=1),
    )
    access_token.token = "the-token"
    access_token.save()
    return access_token


def test_same_instance_as_the_queryset_with_related_objects_and_annotations(token):
    """Fields, select_related objects (client, user, profile) and annotations all match."""
    lookup = PreparedLookup(access_token_with_claim_sources)
    expected = access_token_with_claim_sources(token.token_checksum).first()
    found = lookup.first(token.token_checksum)
    assert found.pk == expected.pk == token.pk
    assert found.expires == expected.expires
    assert found.application.client_id == token.application.client_id
    assert found.user.email == token.user.email
    assert found.user.profile.value("nickname") == "Ana"
    assert found.ciam_email_verified == expected.ciam_email_verified
    assert found.ciam_claims == expected.ciam_claims
    with CaptureQueriesContext(connection) as captured:
        found.user.profile  # noqa: B018 - loaded with the row: no query
        found.application  # noqa: B018
    assert len(captured) == 0


def test_unknown_value_is_none(token):
    """A value no row has gives None, like first()."""
    assert PreparedLookup(access_token_with_claim_sources).first("0" * 64) is None


def test_compiled_once_per_connection_and_the_same_statement_each_time(token):
    """The queryset is built once; every lookup sends the same SQL with its own value."""
    built = []

    def build(value):
        built.append(value)
        return access_token_with_claim_sources(value)

    lookup = PreparedLookup(build)
    with CaptureQueriesContext(connection) as captured:
        assert lookup.first(token.token_checksum).pk == token.pk
        assert lookup.first("f" * 64) is None
        assert lookup.first(token.token_checksum).pk == token.pk
    assert len(built) == 1
    assert len(captured) == 3
    assert (
        len(
            {
                query["sql"].replace(token.token_checksum, "?").replace("f" * 64, "?")
                for query in captured.captured_queries
            }
        )
        == 1
    )


def test_uuid_values_are_converted_like_the_field_converts_them(token):
    """A UUID column is compared with the database's form of the value."""
    family = uuid.uuid4()
    AuthorizationContext.objects.create(
        application=token.application,
        user=token.user,
        code_hash=code_hash("a-code"),
        token_family=family,
        auth_time=1,
    )
    lookup = PreparedLookup(
        lambda value: AuthorizationContext.objects.filter(token_family=value),
        field=AuthorizationContext._meta.get_field("token_family"),
    )
    assert lookup.first(family).code_hash == code_hash("a-code")
    assert lookup.first(uuid.uuid4()) is None


def test_a_queryset_that_ignores_the_value_is_refused(token):
    """A lookup whose queryset does not filter by the value would answer the same row for
    every value: it is refused when compiled."""
    lookup = PreparedLookup(lambda value: AccessToken.objects.all())
    with pytest.raises(ValueError, match="does not filter"):
        lookup.first(token.token_checksum)
