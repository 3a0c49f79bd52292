"""The user model: email as the identifier, no username (accounts/models.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, transaction

pytestmark = pytest.mark.django_db

User = get_user_model()


def test_create_user_normalises_email_and_hashes_password():
    """create_user(email=..., password=...) lower-cases the address and stores a hash."""
    user = User.objects.create_user(email="Ana.Silva@EXAMPLE.com", password="pw-123456")
    assert user.email == "ana.silva@example.com"
    assert user.password != "pw-123456"
    assert user.check_password("pw-123456")
    assert not user.check_password("wrong")
    assert user.is_active
    assert not user.is_staff
    assert not user.is_superuser


def test_create_user_without_password_has_unusable_password():
    """No password: the account signs in by other means only."""
    user = User.objects.create_user(email="nopw@example.com")
    assert not user.has_usable_password()
    assert not user.check_password("")


def test_create_user_requires_email():
    """The email address is the identifier: it cannot be missing."""
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user(email="", password="x")


def test_email_is_unique_whatever_the_case():
    """Two accounts cannot share an address, however it is capitalised."""
    User.objects.create_user(email="same@example.com", password="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="SAME@example.com", password="x")


def test_create_superuser_is_staff_and_superuser():
    """create_superuser gives operator rights; refusing them is an error."""
    admin = User.objects.create_superuser(email="Root@Example.com", password="pw-123456")
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.email == "root@example.com"
    with pytest.raises(ValueError, match="superuser"):
        User.objects.create_superuser(email="x@example.com", password="x", is_staff=False)
    with pytest.raises(ValueError, match="superuser"):
        User.objects.create_superuser(email="y@example.com", password="x", is_superuser=False)


def test_there_is_no_username():
    """The model has no username field; email is USERNAME_FIELD and EMAIL_FIELD."""
    with pytest.raises(FieldDoesNotExist):
        User._meta.get_field("username")
    assert User.USERNAME_FIELD == "email"
    assert User.EMAIL_FIELD == "email"
    assert User.REQUIRED_FIELDS == []
    assert str(User.objects.create_user(email="s@example.com")) == "s@example.com"


def test_natural_key_lookup_ignores_case():
    """Sign-in by email finds the account whatever the capitalisation typed."""
    user = User.objects.create_user(email="case@example.com", password="pw-123456")
    assert User.objects.get_by_natural_key("CASE@Example.COM") == user
    assert authenticate(email="Case@Example.com", password="pw-123456") == user


def test_clean_normalises_email():
    """Forms and the admin (full_clean) store the address lower-cased."""
    user = User(email="Mixed@Example.COM")
    user.set_unusable_password()
    user.full_clean()
    assert user.email == "mixed@example.com"
