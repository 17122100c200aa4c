"""The embedded llama.cpp server: llama.cpp's own OpenAI-compatible HTTP server (via xllamacpp),
run in a child process on 127.0.0.1.

A child process, not a thread: the server owns all cores while it decodes, can be killed
cleanly, and is shared by every service when ``ascent up`` exports its URL.
Run directly: ``python -m shared.models.llama_server --model PATH --port N``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"


class LLMServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerOptions:
    model_path: Path
    port: int = 0
    ctx: int = 8192
    parallel: int = 2
    threads: int = 0
    alias: str = "local"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


class EmbeddedLLMServer:
    """Starts, health-checks and stops one llama.cpp server child process."""

    def __init__(self, options: ServerOptions, log_file: Path | None = None) -> None:
        self.options = options
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self, timeout: float = 180.0) -> str:
        if not self.options.model_path.is_file():
            raise LLMServerError(f"model file {self.options.model_path} does not exist")
        requested = self.options.port
        self.port = requested if requested and _port_is_free(requested) else _free_port()
        threads = self.options.threads or os.cpu_count() or 1
        cmd = [
            sys.executable, "-m", "shared.models.llama_server",
            "--model", str(self.options.model_path), "--port", str(self.port),
            "--ctx", str(self.options.ctx), "--parallel", str(self.options.parallel),
            "--threads", str(threads), "--alias", self.options.alias,
        ]  # fmt: skip
        log = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        finally:
            if self.log_file:
                log.close()  # the child holds its own descriptor
        atexit.register(self.stop)
        self._wait_healthy(timeout)
        return self.base_url

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{HOST}:{self.port}/health"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                where = f"; see {self.log_file}" if self.log_file else ""
                raise LLMServerError(
                    f"embedded llama.cpp server exited with code {self.process.returncode} "
                    f"while loading {self.options.model_path}{where}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise LLMServerError(f"embedded llama.cpp server not healthy after {timeout:.0f}s")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve(args: argparse.Namespace) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = args.alias
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.endpoint_metrics = True
    server = xllamacpp.Server(params)  # listens on 127.0.0.1 from here on
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        # Exit if our parent disappears without terminating us (e.g. kill -9).
        if os.getppid() == 1:
            break
    del server


def main() -> None:
    parser = argparse.ArgumentParser(description="Embedded llama.cpp OpenAI-compatible server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--alias", default="local")
    _serve(parser.parse_args())


if __name__ == "__main__":
    main()
