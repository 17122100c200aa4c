"""Helpers for benchmarks that run a service for real: a scratch database and a uvicorn
process of the service, both removed at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
from psycopg import sql

from benchmarks._common import settings


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A freshly migrated database ``name`` on the benchmark's server; dropped afterwards."""
    from shared.db import apply_migrations, ensure_database
    from shared.db.connect import create_database_if_missing

    admin = ensure_database(settings())
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)
    create_database_if_missing(admin, name)
    try:
        apply_migrations(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(drop)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(factory: str, database_url: str, port: int, **env: str) -> Iterator[str]:
    """``uvicorn --factory FACTORY`` on 127.0.0.1:``port``; yields its base URL once healthy."""
    environment = {**os.environ, "DATABASE_URL": database_url, "ASCENT_MIGRATE_ON_START": "false",
                   "ASCENT_LOG_LEVEL": "WARNING", **env}  # fmt: skip
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if server.poll() is not None:
                raise RuntimeError(f"{factory} exited with status {server.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"{factory} did not become healthy in 2 minutes")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
