"""Password hashing: Argon2id with OWASP parameters, old hashes upgraded at sign-in, and
client-secret hashes never accepted as user passwords."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY, authenticate, get_user_model
from django.contrib.auth.hashers import identify_hasher, make_password

from accounts.hashers import Argon2idPasswordHasher
from ciam.client_secrets import ALGORITHM as CLIENT_SECRET_ALGORITHM
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def sign_in(client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def signed_in_as(client) -> str | None:
    return client.session.get(SESSION_KEY)


def test_new_passwords_use_argon2id_with_owasp_parameters():
    """The stored hash is Argon2id, m=19456 KiB, t=2, p=1 (OWASP Password Storage)."""
    user = UserFactory()
    assert user.password.startswith("argon2$argon2id$")
    hasher = identify_hasher(user.password)
    assert isinstance(hasher, Argon2idPasswordHasher)
    decoded = hasher.decode(user.password)
    assert decoded["variety"] == "argon2id"
    assert decoded["memory_cost"] == 19456
    assert decoded["time_cost"] == 2
    assert decoded["parallelism"] == 1
    assert "$v=19$m=19456,t=2,p=1$" in user.password
    assert not hasher.must_update(user.password)


def test_argon2_hash_with_other_parameters_must_be_updated():
    """An Argon2 hash made with other parameters is flagged for re-hashing."""
    weaker = make_password(PASSWORD, hasher="argon2").replace("m=19456", "m=8192")
    assert Argon2idPasswordHasher().must_update(weaker)


@pytest.mark.parametrize("legacy", ["pbkdf2_sha256", "pbkdf2_sha1", "scrypt"])
def test_legacy_hash_signs_in_and_is_upgraded_to_argon2id(client, legacy):
    """A password imported with an older hasher still signs in through the hosted login,
    and the successful sign-in re-hashes it with Argon2id."""
    user = UserFactory()
    user.password = make_password(PASSWORD, hasher=legacy)
    user.save(update_fields=["password"])
    assert identify_hasher(user.password).algorithm == legacy

    response = sign_in(client, user.email, PASSWORD)

    assert response.status_code == 302, response.content[:500]
    assert signed_in_as(client) == str(user.pk)
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert user.check_password(PASSWORD)


def test_legacy_hash_with_wrong_password_is_refused_and_kept(client):
    """A wrong password neither signs in nor touches the stored legacy hash."""
    user = UserFactory()
    legacy = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.password = legacy
    user.save(update_fields=["password"])
    response = sign_in(client, user.email, "not-the-password-1")
    assert response.status_code == 200
    assert signed_in_as(client) is None
    user.refresh_from_db()
    assert user.password == legacy


def test_client_secret_hash_is_never_a_user_password(client):
    """A hash in the client-secret format (fast keyed HMAC) stored as a user's password is
    never accepted: not by check_password, not by authenticate, not by the sign-in page."""
    user = UserFactory()
    stored = make_password(PASSWORD, hasher=CLIENT_SECRET_ALGORITHM)
    assert stored.startswith(CLIENT_SECRET_ALGORITHM + "$")
    user.password = stored
    user.save(update_fields=["password"])

    assert not user.check_password(PASSWORD)
    assert authenticate(email=user.email, password=PASSWORD) is None
    response = sign_in(client, user.email, PASSWORD)
    assert response.status_code == 200
    assert signed_in_as(client) is None
    user.refresh_from_db()
    assert user.password == stored


def test_argon2id_password_signs_in(client):
    """The normal case: a current hash signs in and is left as it is."""
    user = UserFactory()
    before = user.password
    response = sign_in(client, user.email, PASSWORD)
    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)
    user.refresh_from_db()
    assert user.password == before
