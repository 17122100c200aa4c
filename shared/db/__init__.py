"""Database plumbing: the connection pool, embedded Postgres and SQL migrations."""

from shared.db.connect import DatabaseUnreachable, check_reachable, ensure_database
from shared.db.migrate import MigrationError, apply_migrations
from shared.db.pool import create_pool

__all__ = [
    "DatabaseUnreachable",
    "MigrationError",
    "apply_migrations",
    "check_reachable",
    "create_pool",
    "ensure_database",
]
