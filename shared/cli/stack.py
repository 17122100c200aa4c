"""``ascent up``: the whole suite as local processes on embedded defaults.

One embedded Postgres, one embedded llama.cpp server, one job worker, and one uvicorn
process per registered service, each told where the database and LLM are through the same
environment variables an operator would set. Stopping (Ctrl-C) stops everything it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from shared.config import Settings, redact_url
from shared.db import apply_migrations, ensure_database
from shared.db.connect import embedded_server
from shared.db.embedded import wait_for_port
from shared.models.llm import embedded_server_url, stop_embedded_servers


def _next_free_port(host: str, port: int) -> int:
    """``port`` if free, else the next free one above it (a taken port is not an error)."""
    for candidate in range(port, port + 100):
        with socket.socket() as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return candidate
    raise RuntimeError(f"no free port on {host} between {port} and {port + 99}")


def registered_services() -> dict[str, str]:
    """Service name -> ``module:factory`` from the ``ascent.services`` entry-point group."""
    return {ep.name: ep.value for ep in sorted(entry_points(group="ascent.services"), key=str)}


@dataclass
class Stack:
    settings: Settings
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    started_postgres: bool = False

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DATABASE_URL"] = self.database_url
        env["ASCENT_LLM_BASE_URL"] = self.llm_url
        env["ASCENT_DATA_HOME"] = str(self.settings.data_home)
        # The stack migrated once; children need not race to check again.
        env["ASCENT_MIGRATE_ON_START"] = "false"
        return env

    def start(self, log: Callable[[str], None]) -> None:
        s = self.settings
        if s.database_url is None:
            self.started_postgres = embedded_server(s).running() is None
        self.database_url = ensure_database(s)
        self.urls["postgres"] = redact_url(self.database_url)
        log(f"database ready at {self.urls['postgres']}")
        applied = apply_migrations(self.database_url)
        log(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")
        if s.llm_base_url:
            self.llm_url = s.llm_base_url
        else:
            log(f"starting embedded llama.cpp with {s.llm_model} ...")
            self.llm_url = embedded_server_url(s)
        self.urls["llm"] = self.llm_url
        logs = s.data_home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._spawn("worker", [sys.executable, "-m", "shared.cli.main", "worker"], logs)
        self.urls["worker"] = f"(jobs; log {logs / 'worker.log'})"
        port = s.base_port - 1
        for name in registered_services():
            port = _next_free_port(s.host, port + 1)
            self._spawn(
                name,
                [sys.executable, "-m", "shared.cli.main", "serve", name, "--port", str(port)],
                logs,
            )
            wait_for_port(s.host, port, timeout=120)
            self.urls[name] = f"http://{s.host}:{port}"

    def _spawn(self, name: str, cmd: list[str], logs: Path) -> None:
        with (logs / f"{name}.log").open("ab") as log_file:
            self.processes[name] = subprocess.Popen(
                cmd, env=self.child_env(), stdout=log_file, stderr=subprocess.STDOUT
            )

    def wait(self) -> str:
        """Block until a child exits or we are interrupted; return why."""
        stop = {"reason": ""}

        def _on_signal(signum, _frame):
            stop["reason"] = signal.Signals(signum).name

        # SIGINT too, explicitly: a process started in the background (nohup, `cmd &`, some CI
        # runners) inherits SIGINT as ignored, and Python then raises no KeyboardInterrupt.
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        try:
            while not stop["reason"]:
                for name, proc in self.processes.items():
                    if proc.poll() is not None:
                        return f"{name} exited with code {proc.returncode}"
                time.sleep(0.5)
        except KeyboardInterrupt:
            return "interrupted"
        return stop["reason"]

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop_embedded_servers()
        if self.started_postgres:
            embedded_server(self.settings).stop()
