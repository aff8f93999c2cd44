"""Password hashing with argon2id (argon2-cffi). Tests set CADENCE_PASSWORD_FAST=1 for cheap parameters."""

from __future__ import annotations

import os
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@cache
def _hasher() -> PasswordHasher:
    if os.environ.get("CADENCE_PASSWORD_FAST") == "1":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's recommendations


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """False for a wrong password, an empty hash (account without a password) or a malformed hash."""
    if not password_hash:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones (rehash after sign-in)."""
    return bool(password_hash) and _hasher().check_needs_rehash(password_hash)
