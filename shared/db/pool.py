"""The async connection pool every service and worker shares within its process."""

from __future__ import annotations

from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.config import Settings


async def _configure(conn: AsyncConnection) -> None:
    # Numpy arrays in and out of vector columns without string round trips.
    await register_vector_async(conn)


def create_pool(url: str, settings: Settings, *, name: str = "ascent") -> AsyncConnectionPool:
    """An unopened pool; ``async with pool`` or ``await pool.open(wait=True)`` opens it."""
    return AsyncConnectionPool(
        url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        kwargs={"row_factory": dict_row, "connect_timeout": int(settings.db_connect_timeout)},
        configure=_configure,
        name=name,
        timeout=settings.db_connect_timeout * 2,
        open=False,
    )
