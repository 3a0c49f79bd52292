"""Password hashing: Argon2id with OWASP's recommended minimum parameters."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id, 19 MiB of memory, 2 iterations, 1 lane (OWASP Password Storage Cheat Sheet).

    It keeps Django's ``argon2`` algorithm name, so hashes made with other parameters still
    verify and are re-hashed with these on the next successful sign-in (``must_update``).
    """

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
