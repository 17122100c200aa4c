import socket
import time

import psycopg
import pytest

from shared.config import Settings
from shared.db import DatabaseUnreachable, ensure_database
from shared.db.embedded import EmbeddedPostgres, EmbeddedPostgresError


def test_serves_pgvector_and_trgm_over_loopback_tcp(pg_server):
    assert pg_server.host == "127.0.0.1"
    with psycopg.connect(pg_server.url("ascent_template")) as conn:
        exts = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
        assert "vector" in exts and "pg_trgm" in exts
        assert conn.execute("SELECT '[1,2,3]'::vector <=> '[1,2,3]'::vector").fetchone()[0] == 0
        assert conn.execute("SELECT similarity('jacket', 'jackets')").fetchone()[0] > 0.5


def test_corrupt_data_dir_is_refused_and_left_untouched(tmp_path):
    data = tmp_path / "pg" / "data"
    data.mkdir(parents=True)
    precious = data / "my-notes.txt"
    precious.write_text("do not delete")
    with pytest.raises(
        EmbeddedPostgresError, match=r"not a PostgreSQL cluster.*nothing was deleted"
    ):
        EmbeddedPostgres(data).start()
    assert precious.read_text() == "do not delete"
    assert sorted(p.name for p in data.iterdir()) == ["my-notes.txt"]


def test_other_major_version_is_refused(tmp_path):
    data = tmp_path / "pg" / "data"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("15\n")
    with pytest.raises(EmbeddedPostgresError, match="PostgreSQL 15 cluster"):
        EmbeddedPostgres(data).start()
    assert (data / "PG_VERSION").read_text() == "15\n"


def test_taken_port_falls_back_to_a_free_one_and_restarts_keep_data(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        server = EmbeddedPostgres(tmp_path / "pg" / "data", port=taken)
        running = server.start()
        try:
            assert running.port != taken
            with psycopg.connect(running.url(), autocommit=True) as conn:
                conn.execute("CREATE TABLE kept (v int)")
                conn.execute("INSERT INTO kept VALUES (42)")
        finally:
            server.stop()
    assert server.running() is None
    again = server.start()
    try:
        with psycopg.connect(again.url()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone()[0] == 42
    finally:
        server.stop()


def test_unreachable_database_url_fails_fast_with_host_and_no_password(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    settings = Settings(
        data_home=tmp_path, database_url=f"postgresql://app:hunter2secret@127.0.0.1:{port}/db"
    )
    start = time.monotonic()
    with pytest.raises(DatabaseUnreachable) as err:
        ensure_database(settings)
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message
    assert "hunter2secret" not in message and "***" in message
