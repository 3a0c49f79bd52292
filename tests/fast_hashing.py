"""pytest plugin (``-p tests.fast_hashing``): each Argon2 password hash computed once per test
process.

Every customer a test creates has a password, and every sign-in checks one: with the
provider's Argon2id parameters (19 MiB, 2 passes) that is about 20 ms of CPU each, thousands
of times in the suite. Here the hash of a password is computed for real the first time (the
same algorithm, parameters and format), then reused: later hashes of the same password
with the same parameters get the same salt, and a check of a (password, hash) pair already
checked gives the same answer without hashing again. Tests of the hashing itself still see
real Argon2id hashes of the configured parameters; a wrong password is still refused.
"""

from __future__ import annotations

from typing import Any

_encoded: dict[tuple[Any, ...], str] = {}
_verified: dict[tuple[str, str], bool] = {}
_originals: dict[str, Any] = {}


def _parameters(hasher: Any) -> tuple[Any, ...]:
    return (hasher.algorithm, hasher.time_cost, hasher.memory_cost, hasher.parallelism)


def _encode(self: Any, password: str, salt: str) -> str:
    key = (password, *_parameters(self))
    if key not in _encoded:
        _encoded[key] = _originals["encode"](self, password, salt)
    return _encoded[key]


def _verify(self: Any, password: str, encoded: str) -> bool:
    key = (password, encoded)
    if key not in _verified:
        _verified[key] = bool(_originals["verify"](self, password, encoded))
    return _verified[key]


def pytest_configure(config: Any) -> None:
    from django.contrib.auth.hashers import Argon2PasswordHasher

    if not _originals:
        _originals["encode"] = Argon2PasswordHasher.encode
        _originals["verify"] = Argon2PasswordHasher.verify
        Argon2PasswordHasher.encode = _encode  # type: ignore[method-assign]
        Argon2PasswordHasher.verify = _verify  # type: ignore[method-assign]
