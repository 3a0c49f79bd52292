from __future__ import annotations

import secrets

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ciam.client_secrets import ALGORITHM as CLIENT_SECRET_ALGORITHM

from .passkeys.models import Passkey, PasskeyOfferDismissal  # noqa: F401
from .passwordless.models import EmailSignIn  # noqa: F401
from .privacy.models import ErasureRequest  # noqa: F401


def new_public_id() -> str:
    """A user's public subject identifier (OIDC Core 8): 128 random bits, URL-safe, 22
    characters. It says nothing about how many users there are or in which order they came."""
    return secrets.token_urlsafe(16)


class UserManager(BaseUserManager["User"]):
    """Users are identified by email; there is no username."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: object) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(
        self, email: str, password: str | None = None, **extra_fields: object
    ) -> User:
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A customer or an operator. The email address is the identifier."""

    email = models.EmailField(_("email address"), unique=True)
    # The ``sub`` of public clients and the input of pairwise ones (ciam/subjects.py): set
    # when the user is created, never changed and never reassigned.
    public_id = models.CharField(
        _("public subject identifier"),
        max_length=32,
        unique=True,
        default=new_public_id,
        editable=False,
    )
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("Whether the user can sign in to the operator admin."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        # The operators' dashboard counts sign-ups per day.
        indexes = [models.Index(fields=["date_joined"], name="user_date_joined")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def check_password(self, raw_password: str | None) -> bool:
        # The client-secret hasher is registered for OAuth clients only; a password hash in
        # its format is never accepted for a person.
        if self.password.startswith(CLIENT_SECRET_ALGORITHM + "$"):
            return False
        return super().check_password(raw_password)
