"""Organisations (the unit that pays) and the product tenants each one owns."""

from __future__ import annotations

import secrets
from typing import Literal, get_args

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

Product = Literal["repurposer", "reviewer", "shopbot"]
PRODUCTS: tuple[str, ...] = get_args(Product)
MAX_NAME = 120


def new_org_id() -> str:
    return "org_" + secrets.token_hex(8)


def clean_org_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValueError("An organization needs a name.")
    if len(name) > MAX_NAME:
        raise ValueError(f"Use at most {MAX_NAME} characters for the organization's name.")
    return name


async def insert_org(conn: AsyncConnection, name: str, org_id: str | None = None) -> str:
    """Insert inside the caller's transaction (sign-up creates user, org and membership)."""
    org_id = org_id or new_org_id()
    await conn.execute(
        "INSERT INTO accounts_orgs (id, name) VALUES (%s, %s)", (org_id, clean_org_name(name))
    )
    return org_id


async def create_org(pool: AsyncConnectionPool, name: str, org_id: str | None = None) -> str:
    async with pool.connection() as conn:
        return await insert_org(conn, name, org_id)


async def org_name(pool: AsyncConnectionPool, org_id: str) -> str | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT name FROM accounts_orgs WHERE id = %s", (org_id,))
        row = await cur.fetchone()
    return row["name"] if row else None


async def link_tenant(pool: AsyncConnectionPool, org_id: str, product: str, tenant: str) -> None:
    """Record that ``org_id`` owns ``tenant`` of ``product``; a tenant has one owner, so
    linking one that another org owns raises ``ValueError``."""
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO accounts_tenants (product, tenant, org_id) VALUES (%s, %s, %s) "
            "ON CONFLICT (product, tenant) DO UPDATE SET org_id = accounts_tenants.org_id "
            "RETURNING org_id",
            (product, tenant, org_id),
        )
        row = await cur.fetchone()
    if row is None or row["org_id"] != org_id:
        raise ValueError(f"{product} tenant {tenant!r} belongs to another organization")


async def org_for_tenant(pool: AsyncConnectionPool, product: str, tenant: str) -> str | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT org_id FROM accounts_tenants WHERE product = %s AND tenant = %s",
            (product, tenant),
        )
        row = await cur.fetchone()
    return row["org_id"] if row else None
