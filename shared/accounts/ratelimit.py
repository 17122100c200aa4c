"""Attempts in fixed windows, counted in Postgres so every process of every service shares one
count: sign-ins per (email, client address), sign-ups per client address."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

MAX_ATTEMPTS = 5
WINDOW_SECONDS = 15 * 60
# Each sign-up costs an argon2 hash and makes an org: cheap to ask for, dear to serve.
MAX_SIGN_UPS = 10
SIGN_UP_WINDOW_SECONDS = 60 * 60


@dataclass(frozen=True)
class Attempt:
    allowed: bool
    retry_after: int


def attempt_key(secret: bytes, *parts: str) -> bytes:
    """The counter's key for ``parts`` (an action, an email, a client address)."""
    # Keyed, so the table cannot be reversed into emails by hashing guesses.
    return hmac.new(secret, "\n".join(parts).encode(), hashlib.sha256).digest()


async def register_attempt(
    pool: AsyncConnectionPool,
    key: bytes,
    *,
    limit: int = MAX_ATTEMPTS,
    window_seconds: int = WINDOW_SECONDS,
) -> Attempt:
    """Count an attempt before checking the password: counting first keeps parallel guesses
    from all slipping in under the limit."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO accounts_sign_in_attempts AS f (key_hash, window_start, attempts) "
            "VALUES (%(key)s, date_bin(make_interval(secs => %(w)s), now(), "
            "timestamptz '2000-01-01'), 1) "
            "ON CONFLICT (key_hash, window_start) DO UPDATE SET attempts = f.attempts + 1 "
            "RETURNING attempts, "
            "ceil(extract(epoch FROM f.window_start + make_interval(secs => %(w)s) - now()))"
            "::int AS retry_after",
            {"key": key, "w": window_seconds},
        )
        row = await cur.fetchone()
    return Attempt(row["attempts"] <= limit, max(1, row["retry_after"]))


async def clear_attempts(pool: AsyncConnectionPool, key: bytes) -> None:
    """A successful sign-in wipes the slate, and old windows of anyone are swept."""
    async with pool.connection() as conn:
        await conn.execute(
            "DELETE FROM accounts_sign_in_attempts "
            "WHERE key_hash = %s OR window_start < now() - interval '1 day'",
            (key,),
        )
