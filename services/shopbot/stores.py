"""Stores (tenants): a secret admin key, a public widget key and the origins it may be used from."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from shared.web.auth import create_api_key

ADMIN_SCOPE = "shopbot:admin"
WIDGET_KEY_PREFIX = "pk_"
_STORE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class StoreError(ValueError):
    pass


@dataclass
class Store:
    id: str
    name: str
    widget_key: str
    allowed_origins: list[str]
    currency: str = "USD"
    integrations: dict[str, Any] = field(default_factory=dict)

    def allows(self, origin: str | None) -> bool:
        """Whether a browser request from ``origin`` may use this store's widget key."""
        if not origin:
            return False
        try:
            return normalise_origin(origin) in self.allowed_origins
        except StoreError:  # "null" (sandboxed frames, file://) or a malformed header
            return False


def normalise_origin(origin: str) -> str:
    """``https://Shop.example:443/`` → ``https://shop.example``; raises on anything else."""
    try:
        parts = urlsplit(origin.strip())
        number = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError:
        number, parts = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreError(f"origin {origin!r} must look like https://shop.example")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{number}" if number and number != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _row_to_store(row: dict[str, Any]) -> Store:
    return Store(row["id"], row["name"], row["widget_key"], list(row["allowed_origins"]),
                 row["currency"], row["integrations"])  # fmt: skip


async def create_store(
    pool: AsyncConnectionPool, store_id: str, name: str, *, origins: list[str],
    currency: str = "USD", integrations: dict[str, Any] | None = None,
) -> tuple[Store, str]:  # fmt: skip
    """Create a store; returns it with its secret admin key (shown once, stored hashed)."""
    if not _STORE_ID.match(store_id):
        raise StoreError("store id: 2-63 lowercase letters, digits and dashes")
    allowed = sorted({normalise_origin(o) for o in origins})
    widget_key = WIDGET_KEY_PREFIX + secrets.token_urlsafe(24)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO shop_stores (id, name, widget_key, allowed_origins, currency, "
            "integrations) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING "
            "RETURNING *",
            (store_id, name, widget_key, allowed, currency.upper(), Jsonb(integrations or {})),
        )
        row = await cur.fetchone()
    if row is None:
        raise StoreError(f"store {store_id!r} already exists")
    admin_key = await create_api_key(pool, store_id, name="shopbot admin", scopes=(ADMIN_SCOPE,))
    return _row_to_store(row), admin_key


async def update_store(
    pool: AsyncConnectionPool, store_id: str, *, origins: list[str] | None = None,
    integrations: dict[str, Any] | None = None, name: str | None = None,
) -> Store:  # fmt: skip
    allowed = sorted({normalise_origin(o) for o in origins}) if origins is not None else None
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE shop_stores SET allowed_origins = COALESCE(%s, allowed_origins), "
            "integrations = COALESCE(%s, integrations), name = COALESCE(%s, name) "
            "WHERE id = %s RETURNING *",
            (allowed, Jsonb(integrations) if integrations is not None else None, name, store_id),
        )
        row = await cur.fetchone()
    if row is None:
        raise StoreError(f"no store {store_id!r}")
    return _row_to_store(row)


async def store_by_id(pool: AsyncConnectionPool, store_id: str) -> Store | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM shop_stores WHERE id = %s", (store_id,))
        row = await cur.fetchone()
    return _row_to_store(row) if row else None


async def store_by_widget_key(pool: AsyncConnectionPool, key: str) -> Store | None:
    if not key.startswith(WIDGET_KEY_PREFIX) or len(key) > 100:
        return None
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM shop_stores WHERE widget_key = %s", (key,))
        row = await cur.fetchone()
    return _row_to_store(row) if row else None
