"""Secrets cannot be tested through the admin's query string: a changelist filter on a
secret field (``?key__startswith=a``) is Django's disallowed-lookup answer, never a filtered
list; the lists' own filters keep working."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import get_application_model, get_grant_model

from tests.factories import UserFactory
from tests.privacy.conftest import tokens_for

from .customers_fixtures import HOST

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, db):
    superuser = get_user_model().objects.create_superuser(
        email="root@example.com", password="operator-password-1"
    )
    client.force_login(superuser)
    return client


@pytest.fixture
def secrets_everywhere(db):
    """One row of each model that holds a secret."""
    user = UserFactory(email="owner@example.com")
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    static = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    static.token_set.create(token="abcd1234")
    app = SocialApp.objects.create(provider="google", name="Google", client_id="id", secret="s3")
    account = SocialAccount.objects.create(user=user, provider="google", uid="uid-1")
    SocialToken.objects.create(app=app, account=account, token="tok", token_secret="ts")
    application = get_application_model().objects.create(
        name="Shop",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris="https://shop.test/cb",
    )
    tokens_for(user, application)
    if not get_grant_model().objects.exists():
        get_grant_model().objects.create(
            user=user,
            application=application,
            code="grant-code",
            expires=timezone.now() + timedelta(minutes=1),
            redirect_uri="https://shop.test/cb",
        )
    return user


def refused(response) -> bool:
    if response.status_code == 400:
        return True
    return response.status_code == 302 and "e=1" in response["Location"]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/otp_totp/totpdevice/?key__startswith=a",
        "/admin/otp_totp/totpdevice/?key__gte=0",
        "/admin/otp_static/staticdevice/?token_set__token__startswith=a",
        "/admin/socialaccount/socialapp/?secret__startswith=s",
        "/admin/socialaccount/socialapp/?settings__icontains=key",
        "/admin/socialaccount/socialtoken/?token__startswith=t",
        "/admin/socialaccount/socialtoken/?token_secret__startswith=t",
        "/admin/socialaccount/socialaccount/?socialtoken__token__startswith=t",
        "/admin/oauth2_provider/accesstoken/?token__startswith=a",
        "/admin/oauth2_provider/accesstoken/?token_checksum__startswith=a",
        "/admin/oauth2_provider/refreshtoken/?token__startswith=a",
        "/admin/oauth2_provider/grant/?code__startswith=a",
        "/admin/oauth2_provider/idtoken/?jti__startswith=a",
        "/admin/accounts/user/?password__startswith=pbkdf2",
    ],
)
def test_filtering_on_a_secret_is_refused(admin_client_, secrets_everywhere, url):
    """Each secret lookup answers with Django's refusal, not a list."""
    response = admin_client_.get(url, **HOST)
    assert refused(response), (url, response.status_code)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/otp_totp/totpdevice/?confirmed__exact=1",
        "/admin/socialaccount/socialapp/?provider=google",
        "/admin/oauth2_provider/accesstoken/",
        "/admin/accounts/user/?is_active__exact=1",
    ],
)
def test_ordinary_filters_still_work(admin_client_, secrets_everywhere, url):
    """The lists' own filters still answer with the list."""
    assert admin_client_.get(url, **HOST).status_code == 200
