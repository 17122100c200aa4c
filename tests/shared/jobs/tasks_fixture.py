"""Tasks the job tests run in a real worker process (loaded with ``--blueprint``).

Each writes its attempts to a table, and its result idempotently, as job code must."""

import asyncio

import procrastinate
import psycopg

from shared.config import get_settings
from shared.jobs import DEFAULT_RETRY

bp = procrastinate.Blueprint()

_SETUP = """
CREATE TABLE IF NOT EXISTS job_attempts (marker text, pid int, at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS job_results (marker text PRIMARY KEY, pid int);
"""


async def _connect() -> psycopg.AsyncConnection:
    conn = await psycopg.AsyncConnection.connect(
        get_settings().database_url.get_secret_value(), autocommit=True
    )
    await conn.execute(_SETUP)
    return conn


async def _record_attempt(conn: psycopg.AsyncConnection, marker: str) -> int:
    import os

    await conn.execute(
        "INSERT INTO job_attempts (marker, pid) VALUES (%s, %s)", (marker, os.getpid())
    )
    cur = await conn.execute("SELECT count(*) FROM job_attempts WHERE marker = %s", (marker,))
    return (await cur.fetchone())[0]


async def _record_result(conn: psycopg.AsyncConnection, marker: str) -> None:
    import os

    await conn.execute(
        "INSERT INTO job_results (marker, pid) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (marker, os.getpid()),
    )


@bp.task(name="slow_write", retry=DEFAULT_RETRY)
async def slow_write(marker: str, seconds: float) -> None:
    async with await _connect() as conn:
        await _record_attempt(conn, marker)
        await asyncio.sleep(seconds)
        await _record_result(conn, marker)


@bp.task(name="fail_once", retry=DEFAULT_RETRY)
async def fail_once(marker: str) -> None:
    async with await _connect() as conn:
        if await _record_attempt(conn, marker) == 1:
            raise RuntimeError("transient failure on the first attempt")
        await _record_result(conn, marker)
