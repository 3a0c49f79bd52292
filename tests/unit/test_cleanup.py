"""Expired codes and tokens are deleted in bounded batches (ciam/services/cleanup.py)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
    set_token_value,
)

from ciam.models import AuthorizationContext, RevokedAccessToken
from ciam.services.cleanup import tokens_cleanup_all, tokens_cleanup_batch
from tests.factories import UserFactory, make_client

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()

KINDS = (
    "grants",
    "refresh_tokens",
    "access_tokens",
    "id_tokens",
    "revoked_jwt_access_tokens",
    "authorization_contexts",
)


@pytest.fixture
def owner():
    user = UserFactory()
    registered = make_client("web", redirect_uris=["https://rp.example.test/callback"])
    application = get_application_model().objects.get(client_id=registered.client_id)
    return user, application


def now():
    return timezone.now()


def refresh_lifetime() -> timedelta:
    return refresh_token_expire_timedelta()


def grant(owner, *, expires):
    user, application = owner
    return Grant.objects.create(
        user=user,
        application=application,
        code=secrets.token_urlsafe(24),
        expires=expires,
        redirect_uri="https://rp.example.test/callback",
        scope="openid",
    )


def access_token(owner, *, expires):
    user, application = owner
    token = AccessToken(user=user, application=application, expires=expires, scope="openid")
    set_token_value(token, secrets.token_urlsafe(24))
    token.save()
    return token


def refresh_token(owner, *, access=None, revoked=None, family=None):
    user, application = owner
    token = RefreshToken(
        user=user,
        application=application,
        access_token=access,
        revoked=revoked,
        token_family=family or uuid.uuid4(),
    )
    set_token_value(token, secrets.token_urlsafe(24))
    token.save()
    return token


def id_token(owner, *, expires):
    user, application = owner
    return IDToken.objects.create(user=user, application=application, expires=expires)


def revoked_jwt(*, expires):
    return RevokedAccessToken.objects.create(jti=secrets.token_urlsafe(16), expires=expires)


def context(owner, *, age: timedelta, family=None):
    user, application = owner
    row = AuthorizationContext.objects.create(
        application=application,
        user=user,
        code_hash=secrets.token_hex(32),
        auth_time=int(now().timestamp()),
        token_family=family,
    )
    AuthorizationContext.objects.filter(pk=row.pk).update(created=now() - age)
    return row


def exists(row) -> bool:
    return type(row).objects.filter(pk=row.pk).exists()


@pytest.fixture
def expired_five_of_each(owner):
    """Five expired rows of every kind, each deletable on its own."""
    past = now() - timedelta(minutes=5)
    long_ago = now() - refresh_lifetime() - timedelta(days=1)
    return {
        "grants": [grant(owner, expires=past) for _ in range(5)],
        "refresh_tokens": [refresh_token(owner, revoked=long_ago) for _ in range(5)],
        "access_tokens": [access_token(owner, expires=past) for _ in range(5)],
        "id_tokens": [id_token(owner, expires=past) for _ in range(5)],
        "revoked_jwt_access_tokens": [revoked_jwt(expires=past) for _ in range(5)],
        "authorization_contexts": [context(owner, age=timedelta(hours=2)) for _ in range(5)],
    }


@pytest.fixture
def live_rows(owner):
    """Rows that must survive every cleanup."""
    future = now() + timedelta(minutes=30)
    live_access = access_token(owner, expires=future)
    live_refresh = refresh_token(owner, access=live_access)
    rotated_recently = refresh_token(owner, revoked=now() - timedelta(days=1))
    expired_access_of_live_refresh = access_token(owner, expires=now() - timedelta(days=1))
    refreshable = refresh_token(owner, access=expired_access_of_live_refresh)
    return {
        "grant": grant(owner, expires=future),
        "access_token": live_access,
        "refresh_token": live_refresh,
        "revoked_recently": rotated_recently,
        "expired_access_of_live_refresh": expired_access_of_live_refresh,
        "refreshable": refreshable,
        "id_token": id_token(owner, expires=future),
        "revoked_jwt_not_expired": revoked_jwt(expires=future),
        "recent_context": context(owner, age=timedelta(minutes=5)),
        "old_context_of_live_family": context(
            owner, age=timedelta(days=3), family=live_refresh.token_family
        ),
        "old_context_of_revoked_family": context(
            owner, age=timedelta(days=3), family=rotated_recently.token_family
        ),
    }


def test_batch_deletes_at_most_limit_of_each_kind(expired_five_of_each, live_rows):
    """tokens_cleanup_batch(limit=N) deletes at most N rows of each kind per call and
    reports how many; repeated calls finish the job."""
    assert tokens_cleanup_batch(limit=3) == dict.fromkeys(KINDS, 3)
    assert tokens_cleanup_batch(limit=3) == dict.fromkeys(KINDS, 2)
    assert tokens_cleanup_batch(limit=3) == dict.fromkeys(KINDS, 0)
    for rows in expired_five_of_each.values():
        assert not any(exists(row) for row in rows)
    for name, row in live_rows.items():
        assert exists(row), name


def test_batch_keeps_live_rows(live_rows):
    """Unexpired codes and tokens, refresh tokens whose access token merely expired,
    recently revoked refresh tokens and the contexts of their families are kept."""
    assert tokens_cleanup_batch(limit=100) == dict.fromkeys(KINDS, 0)
    for name, row in live_rows.items():
        assert exists(row), name


def test_recently_revoked_refresh_token_is_kept_for_reuse_detection(owner):
    """A rotated (revoked) refresh token stays while it could still be replayed: a replay
    must find it to revoke the family (RFC 9700 4.14.2)."""
    within = refresh_token(owner, revoked=now() - refresh_lifetime() + timedelta(hours=1))
    beyond = refresh_token(owner, revoked=now() - refresh_lifetime() - timedelta(hours=1))
    tokens_cleanup_batch(limit=100)
    assert exists(within)
    assert not exists(beyond)


def test_refresh_token_is_deleted_once_it_cannot_be_used(owner):
    """A live refresh token goes when its lifetime (counted from its access token's
    expiry) is over, and its access token with it."""
    old_access = access_token(owner, expires=now() - refresh_lifetime() - timedelta(hours=1))
    stale = refresh_token(owner, access=old_access)
    tokens_cleanup_all()
    assert not exists(stale)
    assert not exists(old_access)


def test_orphan_refresh_token_is_deleted(owner):
    """A refresh token without access token and not revoked can never be used: deleted."""
    orphan = refresh_token(owner)
    tokens_cleanup_batch(limit=10)
    assert not exists(orphan)


def test_expired_access_token_with_id_token_goes_with_it(owner):
    """An expired ID token is deleted once no access token points at it."""
    expired = now() - timedelta(minutes=1)
    token_id = id_token(owner, expires=expired)
    user, application = owner
    token = AccessToken(
        user=user, application=application, expires=expired, scope="openid", id_token=token_id
    )
    set_token_value(token, secrets.token_urlsafe(24))
    token.save()
    tokens_cleanup_all()
    assert not exists(token)
    assert not exists(token_id)


def test_cleanup_tokens_command_deletes_everything_expired(expired_five_of_each, live_rows):
    """manage.py cleanup_tokens runs batches until nothing expired is left, prints counts."""
    out = StringIO()
    call_command("cleanup_tokens", "--batch-size", "2", stdout=out)
    for kind in KINDS:
        assert f"{kind}: 5 deleted" in out.getvalue()
    assert "signing_keys: 0 deleted" in out.getvalue()
    for rows in expired_five_of_each.values():
        assert not any(exists(row) for row in rows)
    for name, row in live_rows.items():
        assert exists(row), name


def test_cleanup_tokens_command_on_clean_tables_reports_zero():
    """Nothing to delete: every count is zero."""
    out = StringIO()
    call_command("cleanup_tokens", stdout=out)
    for kind in KINDS:
        assert f"{kind}: 0 deleted" in out.getvalue()
