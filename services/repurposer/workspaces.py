"""Workspaces (the repurposer's tenants) and the API keys that act for them."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from services.repurposer.model import BrandStyle
from shared.config import Settings
from shared.web.auth import ApiKey, create_api_key, require_scope

SCOPE = "repurposer"
LOCAL_WORKSPACE = "local"
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


async def create_workspace(
    pool: AsyncConnectionPool, workspace_id: str, name: str = "", *, key_name: str = "api"
) -> str | None:
    """Create the workspace if new and return an API key for it (None if it existed, or if
    ``key_name`` is empty)."""
    if not _ID.match(workspace_id):
        raise ValueError("workspace ids are 2-63 lower-case letters, digits, '-' or '_'")
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO rp_workspaces (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING "
            "RETURNING id",
            (workspace_id, name or workspace_id),
        )
        created = await cur.fetchone() is not None
    if not created or not key_name:
        return None
    return await create_api_key(pool, workspace_id, name=key_name, scopes=(SCOPE,))


async def issue_key(pool: AsyncConnectionPool, workspace_id: str, *, name: str) -> str:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT 1 FROM rp_workspaces WHERE id = %s", (workspace_id,))
        if await cur.fetchone() is None:
            raise LookupError(f"no workspace {workspace_id!r}")
        # One key per name: a fresh sign-in link retires the previous one.
        await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE tenant = %s AND name = %s "
            "AND revoked_at IS NULL",
            (workspace_id, name),
        )
    return await create_api_key(pool, workspace_id, name=name, scopes=(SCOPE,))


async def workspace_style(pool: AsyncConnectionPool, workspace_id: str) -> BrandStyle:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT style FROM rp_workspaces WHERE id = %s", (workspace_id,))
        row = await cur.fetchone()
    return BrandStyle.model_validate(row["style"] if row else {})


async def save_style(pool: AsyncConnectionPool, workspace_id: str, style: BrandStyle) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE rp_workspaces SET style = %s WHERE id = %s",
            (Jsonb(style.model_dump()), workspace_id),
        )


def webhook_secret(settings: Settings, workspace_id: str) -> str:
    """Derived, so it needs no storage and rotates with ASCENT_SECRET_KEY."""
    key = settings.secret_key.get_secret_value().encode()
    return (
        "whsec_" + hmac.new(key, f"rp-webhook:{workspace_id}".encode(), hashlib.sha256).hexdigest()
    )


def is_loopback(request: Request) -> bool:
    """A request from this machine, not relayed by a proxy (dev sign-in is local only)."""
    if request.client is None or "x-forwarded-for" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


async def workspace_of_org(pool: AsyncConnectionPool, org_id: str) -> str:
    """The organisation's workspace, created and linked on first use."""
    from shared.accounts import link_tenant, org_for_tenant

    workspace_id = "o-" + org_id.removeprefix("org_").lower()
    await create_workspace(pool, workspace_id, org_id, key_name="")
    if await org_for_tenant(pool, SCOPE, workspace_id) is None:
        await link_tenant(pool, org_id, SCOPE, workspace_id)
    return workspace_id


async def current_workspace(
    request: Request, api_key: Annotated[ApiKey, Depends(require_scope(SCOPE))]
) -> str:
    # Organisation keys (made on the account page) act for the organisation's workspace.
    if api_key.tenant.startswith("org:"):
        return await workspace_of_org(request.app.state.pool, api_key.tenant.removeprefix("org:"))
    return api_key.tenant


Workspace = Annotated[str, Depends(current_workspace)]


def require_local_dev(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.env == "production" or not settings.repurposer_demo or not is_loopback(request):
        raise HTTPException(404, "Not found")
