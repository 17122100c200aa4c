"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
# Long inputs cost argon2 nothing much, but an unbounded form field is a free DoS lever.
MAX_LENGTH = 1024

_hasher = PasswordHasher()


def hash_password(password: str, hasher: PasswordHasher = _hasher) -> str:
    return hasher.hash(password)


def verify_password(stored: str, password: str, hasher: PasswordHasher = _hasher) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str, hasher: PasswordHasher = _hasher) -> bool:
    """True when ``stored`` was made with other parameters than ``hasher``'s current ones."""
    try:
        return hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_verification(password: str) -> None:
    """Spend one verification's time on nothing, so an unknown email answers as slowly as a
    known one with a wrong password (no account enumeration by timing)."""
    verify_password(_dummy_hash(), password)


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused for a new account, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None
