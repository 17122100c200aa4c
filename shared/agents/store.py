"""Agent traces in Postgres (``agent_traces``), one row per turn, always scoped to a tenant.

Each statement carries ``tenant = %s`` and also runs as the ``ascent_tenant`` role with
``ascent.tenant`` set, so row-level security backs the predicate up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from shared.agents.trace import Trace


@dataclass(frozen=True)
class StoredTrace:
    id: int
    tenant: str
    agent: str
    session: str
    turn: int
    created_at: datetime
    trace: Trace


_COLUMNS = "id, tenant, agent, session, turn, created_at, trace"


def _stored(row: dict) -> StoredTrace:
    # psycopg has already parsed the jsonb column into Python objects.
    return StoredTrace(**{**row, "trace": Trace.model_validate(row["trace"])})


class TraceStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _tenant(self, tenant: str) -> AsyncIterator[AsyncConnection]:
        if not tenant:
            raise ValueError("a tenant is required")
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "SELECT set_config('role', 'ascent_tenant', true), "
                "set_config('ascent.tenant', %s, true)",
                (tenant,),
            )
            yield conn

    async def save(self, tenant: str, session: str, turn: int, trace: Trace) -> int:
        """Store one turn's trace; returns its id. A retried turn adds a row (get reads the
        latest)."""
        async with self._tenant(tenant) as conn:
            cur = await conn.execute(
                "INSERT INTO agent_traces (tenant, agent, session, turn, trace) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (tenant, trace.agent, session, turn, Jsonb(trace.model_dump(mode="json"))),
            )
            row = await cur.fetchone()
        assert row is not None
        return row["id"]

    async def get(self, tenant: str, session: str, turn: int) -> StoredTrace | None:
        async with self._tenant(tenant) as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM agent_traces "
                "WHERE tenant = %s AND session = %s AND turn = %s ORDER BY id DESC LIMIT 1",
                (tenant, session, turn),
            )
            row = await cur.fetchone()
        return _stored(row) if row else None

    async def list(self, tenant: str, session: str) -> list[StoredTrace]:
        """A session's traces in turn order."""
        async with self._tenant(tenant) as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM agent_traces "
                "WHERE tenant = %s AND session = %s ORDER BY turn, id",
                (tenant, session),
            )
            rows = await cur.fetchall()
        return [_stored(row) for row in rows]
