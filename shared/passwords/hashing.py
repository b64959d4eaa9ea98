"""Password hashes: argon2id (argon2-cffi) with OWASP's parameters.

OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane) rather than RFC 9106's
64 MiB: a Functions worker signs in many people at once, and 64 MiB each
would bound that by memory. The parameters travel inside each encoded hash,
so a hash made with older ones still verifies and is upgraded at the next
successful sign-in (`needs_rehash`).

Unknown emails are verified against a fixed dummy hash with the same
parameters, so "no such user" and "wrong password" take about the same time.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.secret import Secret

_HASHER = PasswordHasher(
    time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)


def hash_password(password: Secret) -> str:
    return _HASHER.hash(password.reveal())


def verify_password(encoded: str | None, password: Secret) -> bool:
    """True when `password` matches `encoded`. Without a hash (no such user, or one
    who signs in with Microsoft) a dummy is checked all the same, and False."""
    # surrogatepass: a lone surrogate (which the policy never lets into a hash) gives
    # bytes no valid password has, so it is checked at the same cost and never matches.
    given = password.reveal().encode("utf-8", "surrogatepass")
    try:
        matches = _HASHER.verify(encoded or _dummy_hash(), given)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matches and encoded is not None


def needs_rehash(encoded: str) -> bool:
    return _HASHER.check_needs_rehash(encoded)


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("entrabridge dummy password, never anyone's")
