"""An organisation's API keys: the platform's hashed keys (shared.web.auth) with the tenant
``org:<id>``, one scope per product. Every query carries the org, so no org reaches another's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import AsyncConnectionPool

from shared.accounts.orgs import PRODUCTS
from shared.web.auth import create_api_key

MAX_KEY_NAME = 80


@dataclass(frozen=True)
class OrgKey:
    id: int
    prefix: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None


def org_tenant(org_id: str) -> str:
    return f"org:{org_id}"


async def create_org_key(
    pool: AsyncConnectionPool, org_id: str, name: str, scopes: tuple[str, ...] = PRODUCTS
) -> str:
    """Create a key and return it; only its sha256 is kept, so this is the one time it shows."""
    name = " ".join(name.split())[:MAX_KEY_NAME] or "API key"
    unknown = set(scopes) - set(PRODUCTS)
    if unknown or not scopes:
        raise ValueError(f"Choose scopes among {', '.join(PRODUCTS)}.")
    ordered = tuple(p for p in PRODUCTS if p in scopes)
    return await create_api_key(pool, org_tenant(org_id), name=name, scopes=ordered)


async def list_org_keys(pool: AsyncConnectionPool, org_id: str) -> list[OrgKey]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, prefix, name, scopes, created_at, last_used_at FROM api_keys "
            "WHERE tenant = %s AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
            (org_tenant(org_id),),
        )
        rows = await cur.fetchall()
    return [
        OrgKey(
            r["id"], r["prefix"], r["name"], tuple(r["scopes"]), r["created_at"], r["last_used_at"]
        )
        for r in rows
    ]


async def revoke_org_key(pool: AsyncConnectionPool, org_id: str, key_id: int) -> bool:
    """False when the org has no live key with this id (another org's key included)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE api_keys SET revoked_at = now() "
            "WHERE id = %s AND tenant = %s AND revoked_at IS NULL RETURNING id",
            (key_id, org_tenant(org_id)),
        )
        return await cur.fetchone() is not None
