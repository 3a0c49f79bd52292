"""manage.py create_user: users with a recorded (verified) email address."""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from profiling.models import Profile

pytestmark = pytest.mark.django_db

User = get_user_model()
STRONG = "Tangerine-Harbour-42"


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue()


def test_creates_user_with_verified_primary_email():
    """The user gets a password and a verified, primary email address (allauth)."""
    output = run("--email", "New.User@Example.com", "--password", STRONG)
    user = User.objects.get(email="new.user@example.com")
    assert f"Created user {user.email} (id {user.pk})" in output
    assert user.check_password(STRONG)
    address = EmailAddress.objects.get(user=user)
    assert address.email == "new.user@example.com"
    assert address.verified
    assert address.primary
    assert not user.is_staff


def test_no_password_gives_an_unusable_password(monkeypatch):
    """--no-password: no prompt, and the account has no usable password."""
    monkeypatch.setattr("getpass.getpass", lambda prompt="": pytest.fail("prompted"))
    run("--email", "passwordless@example.com", "--no-password")
    user = User.objects.get(email="passwordless@example.com")
    assert not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified


def test_password_is_asked_when_not_given(monkeypatch):
    """Without --password (and without --no-password) the password is read from a prompt."""
    monkeypatch.setattr("getpass.getpass", lambda prompt="": STRONG)
    run("--email", "prompted@example.com")
    assert User.objects.get(email="prompted@example.com").check_password(STRONG)


def test_duplicate_email_is_an_error_whatever_the_case():
    """An existing address (in any capitalisation) is refused; nothing changes."""
    run("--email", "taken@example.com", "--password", STRONG)
    with pytest.raises(CommandError, match="exists already"):
        run("--email", "TAKEN@example.com", "--password", STRONG + "x")
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert User.objects.get(email="taken@example.com").check_password(STRONG)


def test_weak_password_is_an_error():
    """The password validators apply; a weak password creates nothing."""
    with pytest.raises(CommandError):
        run("--email", "weak@example.com", "--password", "password")
    assert not User.objects.filter(email="weak@example.com").exists()


def test_unverified_names_and_roles():
    """--unverified, --given-name/--family-name (profile) and --superuser are honoured."""
    run(
        "--email",
        "boss@example.com",
        "--password",
        STRONG,
        "--unverified",
        "--given-name",
        "Ana",
        "--family-name",
        "Silva",
        "--superuser",
    )
    user = User.objects.get(email="boss@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    profile = Profile.objects.get(user=user)
    assert (profile.value("given_name"), profile.value("family_name")) == ("Ana", "Silva")
    assert user.is_superuser
    assert user.is_staff


def test_staff_flag():
    """--staff makes an operator who is not a superuser."""
    run("--email", "ops@example.com", "--no-password", "--staff")
    user = User.objects.get(email="ops@example.com")
    assert user.is_staff
    assert not user.is_superuser
