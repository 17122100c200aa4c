"""Kill ``ascent worker`` with SIGKILL mid-transcription: a second worker picks the stalled
job up, skips the finished stages, completes it, and the upload is untouched.

The workers are pointed at an LLM endpoint that refuses connections: resumption is what is
tested here, and the job must still complete on the pipeline's fallbacks (keyword chapter
titles, heuristic highlight scores, texts built from the transcript)."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.repurposer.app import create_repurposer_app
from services.repurposer.workspaces import create_workspace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
TUS = {"Tus-Resumable": "1.0.0"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_worker(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stage(database_url: str, job_id: str, name: str) -> dict:
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT status, progress, started_at, finished_at FROM rp_stages "
            "WHERE job_id = %s AND name = %s",
            (job_id, name),
        ).fetchone()


def job_status(database_url: str, job_id: str) -> str:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT status FROM rp_jobs WHERE id = %s", (job_id,)).fetchone()[0]


def wait_for(predicate, timeout: float, what: str, worker: subprocess.Popen | None = None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}) while waiting: {what}")
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def test_killed_worker_resumes_from_the_last_finished_stage(
    settings, pool, database_url, talk_video, tmp_path
):
    store = tmp_path / "store"
    rp = settings.model_copy(update={
        "repurposer_storage_url": f"file://{store}", "repurposer_demo": False,
    })  # fmt: skip
    key = await create_workspace(pool, "resume")
    headers = {"Authorization": f"Bearer {key}"}
    data = talk_video.read_bytes()
    with TestClient(create_repurposer_app(rp)) as client:
        created = client.post("/v1/uploads", headers={**headers, **TUS,
                                                      "Upload-Length": str(len(data))})  # fmt: skip
        location = created.headers["Location"]
        done = client.patch(location, content=data, headers={
            **headers, **TUS, "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        })  # fmt: skip
        assert done.status_code == 204
        upload_id = location.rsplit("/", 1)[-1]
        job = client.post("/v1/jobs", headers=headers, json={
            "upload_id": upload_id, "clips": 1, "aspects": ["9:16"],
        }).json()  # fmt: skip
    job_id = job["id"]
    env = {
        **os.environ, "DATABASE_URL": database_url, "ASCENT_DATA_HOME": str(settings.data_home),
        "ASCENT_LLM_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "ASCENT_LLM_MAX_RETRIES": "0",
        "ASCENT_REPURPOSER_STORAGE_URL": f"file://{store}", "ASCENT_MIGRATE_ON_START": "false",
        "ASCENT_JOB_HEARTBEAT_INTERVAL": "1", "ASCENT_JOB_STALLED_AFTER": "4",
        "ASCENT_REPURPOSER_CLIP_HEIGHT": "360", "ASCENT_ENV": "test",
    }  # fmt: skip
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        first = start_worker(env, log)
        try:
            wait_for(lambda: (s := stage(database_url, job_id, "transcribe"))["status"]
                     == "running" and s["progress"] > 0.05, 240, "transcription to start",
                     first)  # fmt: skip
            audio_done = stage(database_url, job_id, "audio")
            assert audio_done["status"] == "done"
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            assert stage(database_url, job_id, "transcribe")["status"] == "running"

            second = start_worker(env, log)
            try:
                wait_for(lambda: job_status(database_url, job_id) in ("done", "failed"), 900,
                         "the job to finish after the restart", second)  # fmt: skip
            finally:
                os.killpg(second.pid, signal.SIGTERM)
                second.wait(timeout=30)
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)
    assert job_status(database_url, job_id) == "done", log_path.read_text()[-3000:]
    # The audio stage was not run again: the retry resumed after it.
    assert stage(database_url, job_id, "audio")["finished_at"] == audio_done["finished_at"]
    source = store / "uploads" / upload_id / "source"
    assert hashlib.sha256(source.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert list((store / "jobs" / job_id / "clips").glob("*.mp4"))
    with psycopg.connect(database_url) as conn:
        kinds = conn.execute("SELECT kind, asset FROM rp_assets WHERE job_id = %s", (job_id,))
        assets = dict(kinds.fetchall())
    assert len(assets) == 6
    assert all(a["data"].get("fallback") for a in assets.values())
