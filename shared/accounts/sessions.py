"""Server-side sign-in sessions: the cookie holds a random 256-bit id, the database only its
sha256, with the user, the organisation acted for, a CSRF token and a sliding expiry."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Response
from psycopg_pool import AsyncConnectionPool

from shared.config import Settings

SESSION_TTL = timedelta(days=14)


@dataclass(frozen=True)
class Session:
    user_id: int
    email: str
    org_id: str
    csrf_token: str
    expires_at: datetime


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def cookie_name(settings: Settings) -> str:
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and
    # Path=/, so a sibling subdomain cannot plant one; it needs HTTPS, hence production only.
    return "__Host-ascent_session" if settings.env == "production" else "ascent_session"


async def create_session(
    pool: AsyncConnectionPool, user_id: int, org_id: str, *, ttl: timedelta = SESSION_TTL
) -> str:
    """Start a session and return its id, for the cookie only (it is never stored or logged)."""
    session_id = secrets.token_urlsafe(32)
    async with pool.connection() as conn:
        # Old rows of this user are dead weight; sweeping them here needs no scheduler.
        await conn.execute(
            "DELETE FROM accounts_sessions WHERE user_id = %s "
            "AND (expires_at < now() OR revoked_at IS NOT NULL)",
            (user_id,),
        )
        await conn.execute(
            "INSERT INTO accounts_sessions (id_hash, user_id, org_id, csrf_token, expires_at) "
            "VALUES (%s, %s, %s, %s, now() + %s)",
            (_hash(session_id), user_id, org_id, secrets.token_urlsafe(32), ttl),
        )
    return session_id


async def load_session(
    pool: AsyncConnectionPool, session_id: str, *, ttl: timedelta = SESSION_TTL
) -> Session | None:
    """The live session with this id, its expiry pushed ``ttl`` past now (sliding), or None
    when unknown, expired, revoked, or its user has left the organisation."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE accounts_sessions s SET last_seen_at = now(), "
            "expires_at = greatest(s.expires_at, now() + %s) "
            "FROM accounts_users u, accounts_memberships m "
            "WHERE s.id_hash = %s AND s.revoked_at IS NULL AND s.expires_at > now() "
            "AND u.id = s.user_id AND m.user_id = s.user_id AND m.org_id = s.org_id "
            "RETURNING s.user_id, u.email, s.org_id, s.csrf_token, s.expires_at",
            (ttl, _hash(session_id)),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    return Session(
        row["user_id"], row["email"], row["org_id"], row["csrf_token"], row["expires_at"]
    )


async def revoke_session(pool: AsyncConnectionPool, session_id: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE accounts_sessions SET revoked_at = now() "
            "WHERE id_hash = %s AND revoked_at IS NULL",
            (_hash(session_id),),
        )


def set_session_cookie(
    response: Response, settings: Settings, session_id: str, *, ttl: timedelta = SESSION_TTL
) -> None:
    response.set_cookie(
        cookie_name(settings),
        session_id,
        max_age=int(ttl.total_seconds()),
        path="/",
        secure=settings.env == "production",
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings),
        path="/",
        secure=settings.env == "production",
        httponly=True,
        samesite="lax",
    )
