"""API keys: random, shown once, stored only as sha256, checked by a FastAPI dependency.

Keys carry 256 bits of randomness, so a fast hash is enough (no password stretching needed)
and lookups stay a single indexed query.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

KEY_PREFIX = "asc_"
_bearer = HTTPBearer(auto_error=False)
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass(frozen=True)
class ApiKey:
    id: int
    tenant: str
    name: str
    scopes: tuple[str, ...]


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_api_key(
    pool: AsyncConnectionPool, tenant: str, *, name: str = "", scopes: tuple[str, ...] = ()
) -> str:
    """Store a new key for ``tenant`` and return it; it cannot be recovered later."""
    key = generate_key()
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO api_keys (prefix, key_hash, tenant, name, scopes) "
            "VALUES (%s, %s, %s, %s, %s)",
            (key[: len(KEY_PREFIX) + 6], hash_key(key), tenant, name, list(scopes)),
        )
    return key


async def revoke_api_key(pool: AsyncConnectionPool, key_id: int) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key_id,))


async def lookup_api_key(pool: AsyncConnectionPool, key: str) -> ApiKey | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE api_keys SET last_used_at = now() "
            "WHERE key_hash = %s AND revoked_at IS NULL "
            "RETURNING id, tenant, name, scopes",
            (hash_key(key),),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    return ApiKey(row["id"], row["tenant"], row["name"], tuple(row["scopes"]))


async def require_api_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    presented = bearer.credentials if bearer else header_key
    if not presented:
        raise HTTPException(
            401,
            "Missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    api_key = await lookup_api_key(request.app.state.pool, presented)
    if api_key is None:
        raise HTTPException(
            401, "Invalid or revoked API key.", headers={"WWW-Authenticate": "Bearer"}
        )
    return api_key


def require_scope(scope: str):
    async def _check(api_key: Annotated[ApiKey, Depends(require_api_key)]) -> ApiKey:
        if scope not in api_key.scopes and "*" not in api_key.scopes:
            raise HTTPException(403, f"This API key lacks the {scope!r} scope.")
        return api_key

    return _check


ApiKeyDep = Annotated[ApiKey, Depends(require_api_key)]
