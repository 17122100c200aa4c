import textwrap
import uuid

import psycopg
import pytest

from shared.db import MigrationError, apply_migrations


@pytest.fixture
def migrations_pkg(tmp_path, monkeypatch):
    # A unique name per test: imported packages stay cached in sys.modules.
    pkg = tmp_path / f"fake_migrations_{uuid.uuid4().hex[:8]}"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    return pkg


def _sources(pkg):
    return {"platform": "shared.db.migrations", "fake": pkg.name}


def test_platform_migrations_are_recorded(database_url):
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT source, version FROM ascent_migrations ORDER BY 1, 2"
        ).fetchall()
    assert ("platform", 1) in rows and ("procrastinate", 0) in rows
    assert apply_migrations(database_url) == []  # already applied in the template


def test_new_migrations_apply_in_order_once(database_url, migrations_pkg):
    (migrations_pkg / "0002_add_column.sql").write_text("ALTER TABLE things ADD COLUMN n int;")
    (migrations_pkg / "0001_create.sql").write_text("CREATE TABLE things (id int);")
    assert apply_migrations(database_url, _sources(migrations_pkg)) == [
        "fake/0001_create",
        "fake/0002_add_column",
    ]
    assert apply_migrations(database_url, _sources(migrations_pkg)) == []
    with psycopg.connect(database_url) as conn:
        cols = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'things'"
        ).fetchall()
    assert sorted(c[0] for c in cols) == ["id", "n"]


def test_failed_migration_rolls_back_and_keeps_data(database_url, migrations_pkg):
    (migrations_pkg / "0001_create.sql").write_text(
        "CREATE TABLE things (id int); INSERT INTO things VALUES (1);"
    )
    apply_migrations(database_url, _sources(migrations_pkg))
    (migrations_pkg / "0002_broken.sql").write_text(
        textwrap.dedent("""
        DELETE FROM things;
        ALTER TABLE things ADD COLUMN bad nonexistent_type;
        """)
    )
    with pytest.raises(MigrationError, match="0002_broken failed and was rolled back"):
        apply_migrations(database_url, _sources(migrations_pkg))
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM things").fetchone()[0] == 1
        versions = conn.execute(
            "SELECT version FROM ascent_migrations WHERE source = 'fake'"
        ).fetchall()
    assert versions == [(1,)]


def test_edited_migration_is_detected(database_url, migrations_pkg):
    (migrations_pkg / "0001_create.sql").write_text("CREATE TABLE things (id int);")
    apply_migrations(database_url, _sources(migrations_pkg))
    (migrations_pkg / "0001_create.sql").write_text("CREATE TABLE things (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_migrations(database_url, _sources(migrations_pkg))


def test_badly_named_migration_is_rejected(database_url, migrations_pkg):
    (migrations_pkg / "create.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"0001_words\.sql"):
        apply_migrations(database_url, _sources(migrations_pkg))
