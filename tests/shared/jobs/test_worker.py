import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from shared.jobs import create_job_app

ROOT = Path(__file__).resolve().parents[3]
BLUEPRINT = "jobs_fixture=tests.shared.jobs.tasks_fixture:bp"


def _start_worker(database_url: str, data_home: Path, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ASCENT_DATA_HOME": str(data_home),
        "ASCENT_JOB_HEARTBEAT_INTERVAL": "0.5",
        "ASCENT_JOB_STALLED_AFTER": "2",
        "ASCENT_MIGRATE_ON_START": "false",
        "PYTHONPATH": str(ROOT),
    }
    cmd = [sys.executable, "-m", "shared.cli.main", "worker", "--blueprint", BLUEPRINT]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _count(url: str, table: str, marker: str) -> int:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            return 0
        return conn.execute(
            f"SELECT count(*) FROM {table} WHERE marker = %s", (marker,)
        ).fetchone()[0]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _defer(url: str, task: str, **kwargs) -> int:
    app = create_job_app(url, [BLUEPRINT])
    async with app.open_async():
        return await app.configure_task(f"jobs_fixture:{task}").defer_async(**kwargs)


async def _status(url: str, job_id: int) -> str:
    app = create_job_app(url, [BLUEPRINT])
    async with app.open_async():
        return (await app.job_manager.get_job_status_async(job_id)).value


@pytest.mark.slow
def test_job_completes_after_its_worker_is_killed(database_url, data_home, tmp_path):
    marker = uuid.uuid4().hex
    job_id = asyncio.run(_defer(database_url, "slow_write", marker=marker, seconds=3.0))
    first = _start_worker(database_url, data_home, tmp_path / "w1.log")
    second = None
    try:
        _wait_for(lambda: _count(database_url, "job_attempts", marker) == 1, 60, "first attempt")
        first.send_signal(signal.SIGKILL)  # no graceful shutdown: the job stays 'doing'
        first.wait(10)
        assert _count(database_url, "job_results", marker) == 0
        assert asyncio.run(_status(database_url, job_id)) == "doing"

        second = _start_worker(database_url, data_home, tmp_path / "w2.log")
        _wait_for(lambda: _count(database_url, "job_results", marker) == 1, 60, "the retry")
        _wait_for(lambda: asyncio.run(_status(database_url, job_id)) == "succeeded", 10, "status")
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(20)
    assert _count(database_url, "job_attempts", marker) == 2
    assert _count(database_url, "job_results", marker) == 1
    with psycopg.connect(database_url) as conn:
        pids = conn.execute(
            "SELECT (SELECT pid FROM job_results WHERE marker = %s), %s", (marker, first.pid)
        ).fetchone()
    assert pids[0] != pids[1]  # the surviving worker finished it


@pytest.mark.slow
def test_failed_job_is_retried_with_backoff(database_url, data_home, tmp_path):
    marker = uuid.uuid4().hex
    job_id = asyncio.run(_defer(database_url, "fail_once", marker=marker))
    worker = _start_worker(database_url, data_home, tmp_path / "w.log")
    try:
        _wait_for(lambda: _count(database_url, "job_results", marker) == 1, 60, "the retry")
    finally:
        worker.send_signal(signal.SIGTERM)  # graceful stop must work too
        assert worker.wait(30) == 0
    with psycopg.connect(database_url) as conn:
        times = [r[0] for r in conn.execute(
            "SELECT at FROM job_attempts WHERE marker = %s ORDER BY at", (marker,)
        )]  # fmt: skip
    assert len(times) == 2
    assert (times[1] - times[0]).total_seconds() >= 1.5  # backed off, not hot-looped
    assert asyncio.run(_status(database_url, job_id)) == "succeeded"
