"""Users: sign-up (a user and the organisation they own) and password sign-in."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool

from shared.accounts.orgs import insert_org
from shared.accounts.passwords import (
    MAX_LENGTH,
    burn_verification,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)

# Deliberately loose: the only real check of an address is mail reaching it.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class EmailTaken(ValueError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    email: str
    # The organisation a new session acts for: the oldest membership, owners first.
    org_id: str


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValueError("Enter an email address like name@example.com.")
    return email


async def create_user(
    pool: AsyncConnectionPool, email: str, password: str, org_name: str
) -> tuple[int, str]:
    """Create a user and an organisation they own; return ``(user_id, org_id)``."""
    email = normalise_email(email)
    if problem := password_problem(password):
        raise ValueError(problem)
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO accounts_users (email, password_hash) VALUES (%s, %s) RETURNING id",
                (email, password_hash),
            )
            user_id = (await cur.fetchone())["id"]
            org_id = await insert_org(conn, org_name)
            await conn.execute(
                "INSERT INTO accounts_memberships (org_id, user_id, role) VALUES (%s, %s, 'owner')",
                (org_id, user_id),
            )
    except psycopg.errors.UniqueViolation as exc:
        raise EmailTaken("An account with this email already exists.") from exc
    return user_id, org_id


async def authenticate(pool: AsyncConnectionPool, email: str, password: str) -> User | None:
    """The user whose email and password these are, or None. Unknown emails take as long as
    wrong passwords; a hash made with old argon2 parameters is replaced on success."""
    try:
        email = normalise_email(email)
    except ValueError:
        await asyncio.to_thread(burn_verification, password[:MAX_LENGTH])
        return None
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT u.id, u.password_hash, m.org_id FROM accounts_users u "
            "JOIN accounts_memberships m ON m.user_id = u.id WHERE u.email = %s "
            "ORDER BY m.role = 'owner' DESC, m.created_at LIMIT 1",
            (email,),
        )
        row = await cur.fetchone()
    if row is None or row["password_hash"] is None or len(password) > MAX_LENGTH:
        await asyncio.to_thread(burn_verification, password[:MAX_LENGTH])
        return None
    if not await asyncio.to_thread(verify_password, row["password_hash"], password):
        return None
    new_hash = None
    if needs_rehash(row["password_hash"]):
        new_hash = await asyncio.to_thread(hash_password, password)
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE accounts_users SET last_sign_in_at = now(), "
            "password_hash = coalesce(%s, password_hash) WHERE id = %s",
            (new_hash, row["id"]),
        )
    return User(row["id"], email, row["org_id"])
