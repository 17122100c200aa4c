"""Decide which Postgres to use and make sure it answers.

``DATABASE_URL`` set: check it is reachable, failing fast with the host named and the
password redacted. Unset: start (or reuse) the embedded server under the data home.
"""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from shared.config import Settings, redact_url
from shared.db.embedded import EmbeddedPostgres

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "ascent"


class DatabaseUnreachable(RuntimeError):
    """The configured database did not answer; the message is safe to print."""


def check_reachable(url: str, timeout: float = 5.0) -> None:
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        parts = urlsplit(url)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnreachable(
            f"cannot reach PostgreSQL at {parts.hostname}:{parts.port or 5432} "
            f"({redact_url(url)}): {reason}"
        ) from None


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.postgres_dir, port=settings.db_port)


def ensure_database(settings: Settings) -> str:
    """Return a connection URL for the configured or embedded database, ready to use."""
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        check_reachable(url, settings.db_connect_timeout)
        return url
    server = embedded_server(settings).start()
    create_database_if_missing(server.url(), EMBEDDED_DATABASE)
    return server.url(EMBEDDED_DATABASE)


def create_database_if_missing(admin_url: str, name: str, template: str | None = None) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process won
            conn.execute(statement)
