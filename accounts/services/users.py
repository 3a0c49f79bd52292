"""Creating users outside the sign-up form (operators, seeding, support)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from profiling.models import ValueSource
from profiling.services.values import profile_update


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    email_verified: bool = True,
    given_name: str = "",
    family_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
    validate: bool = True,
):
    """Create a user whose email address is recorded (verified or not) for sign-in.

    Raises ``django.core.exceptions.ValidationError`` for a weak password when ``validate``.
    """
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    if password and validate:
        validate_password(password, User(email=email))
    user = User.objects.create_user(
        email=email, password=password, is_staff=is_staff, is_superuser=is_superuser
    )
    EmailAddress.objects.create(user=user, email=email, verified=email_verified, primary=True)
    if given_name or family_name:
        # An operator's or an import's names are kept as given (no junk check).
        profile_update(
            user=user,
            changes={"given_name": given_name, "family_name": family_name},
            source=ValueSource.ADMIN,
            source_detail="create_user",
            check_junk=False,
        )
    return user
