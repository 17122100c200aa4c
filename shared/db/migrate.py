"""Numbered SQL migrations, applied in order at start-up and recorded in ``ascent_migrations``.

Each source is a package holding ``NNNN_description.sql`` files: the platform's own
(``shared.db.migrations``), then any registered under the ``ascent.migrations`` entry-point
group by services. An advisory lock lets several processes start at once safely, and a
checksum catches a migration that was edited after it ran.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points

import psycopg

logger = logging.getLogger(__name__)

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 0x617363656E74  # "ascent"
PROCRASTINATE_SOURCE = "procrastinate"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    source: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migration_sources() -> dict[str, str]:
    """Source name -> package holding its SQL files; the platform's always comes first."""
    sources = {"platform": "shared.db.migrations"}
    for ep in sorted(entry_points(group="ascent.migrations"), key=lambda e: e.name):
        sources[ep.name] = ep.value
    return sources


def load_migrations(source: str, package: str) -> list[Migration]:
    found = []
    for entry in resources.files(package).iterdir():
        match = _FILENAME.match(entry.name)
        if match:
            found.append(
                Migration(source, int(match[1]), match[2], entry.read_text(encoding="utf-8"))
            )
        elif entry.name.endswith(".sql"):
            raise MigrationError(f"{package}/{entry.name}: name must look like 0001_words.sql")
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{package}: two migrations share a number")
    return found


_RECORD_TABLE = """
CREATE TABLE IF NOT EXISTS ascent_migrations (
    source     text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, version)
)
"""


def apply_migrations(url: str, sources: dict[str, str] | None = None) -> list[str]:
    """Apply every pending migration; return the names of those applied."""
    sources = sources if sources is not None else migration_sources()
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(_RECORD_TABLE)
            done = {
                (row[0], row[1]): row[2]
                for row in conn.execute("SELECT source, version, checksum FROM ascent_migrations")
            }
            for source, package in sources.items():
                for migration in load_migrations(source, package):
                    key = (source, migration.version)
                    if key in done:
                        if done[key] != migration.checksum:
                            raise MigrationError(
                                f"migration {source}/{migration.version:04d}_{migration.name} "
                                "changed after it was applied; add a new migration instead"
                            )
                        continue
                    _apply_one(conn, migration)
                    applied_now.append(f"{source}/{migration.version:04d}_{migration.name}")
            if _apply_procrastinate_schema(conn):
                applied_now.append(PROCRASTINATE_SOURCE)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    for name in applied_now:
        logger.info("applied migration %s", name)
    return applied_now


def _apply_one(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO ascent_migrations (source, version, name, checksum) "
                "VALUES (%s, %s, %s, %s)",
                (migration.source, migration.version, migration.name, migration.checksum),
            )
    except psycopg.Error as exc:
        raise MigrationError(
            f"migration {migration.source}/{migration.version:04d}_{migration.name} failed "
            f"and was rolled back: {exc}"
        ) from exc


def _apply_procrastinate_schema(conn: psycopg.Connection) -> bool:
    """The job queue's own schema, installed once from the procrastinate package."""
    exists = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    if exists and exists[0]:
        return False
    from procrastinate.schema import SchemaManager

    with conn.transaction():
        conn.execute(SchemaManager.get_schema())
        conn.execute(
            "INSERT INTO ascent_migrations (source, version, name, checksum) "
            "VALUES (%s, 0, 'schema', %s)",
            (PROCRASTINATE_SOURCE, hashlib.sha256(SchemaManager.get_schema().encode()).hexdigest()),
        )
    return True
