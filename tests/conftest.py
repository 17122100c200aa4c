"""Fixtures for real parts: one embedded Postgres per test session, a fresh database per test
(cloned from a migrated template), and one embedded llama.cpp server (the 0.5B) per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from shared.config import Settings
from shared.db import apply_migrations, create_pool
from shared.db.connect import create_database_if_missing
from shared.db.embedded import EmbeddedPostgres, RunningServer

TEMPLATE_DB = "ascent_template"
TEST_LLM = "qwen2.5-coder-0.5b"


@pytest.fixture(scope="session")
def data_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Assembled models are large; share them across sessions in one stable folder.
    home = Path(os.environ.get("ASCENT_TEST_DATA_HOME", "/tmp/ascent-test-home"))
    home.mkdir(parents=True, exist_ok=True)
    return home


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = EmbeddedPostgres(Path("/tmp") / f"ascent-test-pg-{uuid.uuid4().hex[:8]}" / "data")
    running = server.start()
    create_database_if_missing(running.url(), TEMPLATE_DB)
    apply_migrations(running.url(TEMPLATE_DB))
    yield running
    server.stop()


@pytest.fixture
def database_url(pg_server: RunningServer) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE_DB)
            )
        )
    yield pg_server.url(name)
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def llm_base_url(data_home: Path) -> Iterator[str]:
    """One embedded 0.5B server for the whole session (started through the real code path)."""
    from shared.models.llm import embedded_server_url, stop_embedded_servers

    url = embedded_server_url(Settings(data_home=data_home, llm_model=TEST_LLM, llm_parallel=2))
    yield url
    stop_embedded_servers()


@pytest.fixture
def settings(data_home: Path, database_url: str) -> Settings:
    return Settings(
        env="test", data_home=data_home, database_url=database_url, llm_model=TEST_LLM,
        log_json=True, migrate_on_start=False,
    )  # fmt: skip


@pytest.fixture
async def pool(settings: Settings, database_url: str) -> AsyncIterator:
    async with create_pool(database_url, settings) as p:
        yield p
