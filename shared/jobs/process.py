"""One database pool per worker process, opened on first use by whichever job needs it."""

from __future__ import annotations

import asyncio

from psycopg_pool import AsyncConnectionPool

from shared.config import get_settings
from shared.db import create_pool, ensure_database


class ProcessPool:
    def __init__(self, name: str) -> None:
        self.name = name
        self._pool: AsyncConnectionPool | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> AsyncConnectionPool:
        async with self._lock:
            if self._pool is None:
                settings = get_settings()
                url = await asyncio.to_thread(ensure_database, settings)
                pool = create_pool(url, settings, name=self.name)
                await pool.open(wait=True)
                self._pool = pool
            return self._pool
