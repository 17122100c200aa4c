import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _ascent(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        env={**os.environ, "COLUMNS": "200", **env}, cwd=ROOT, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_models_lists_every_packaged_model(data_home):
    result = _ascent("models", env={"ASCENT_DATA_HOME": str(data_home)})
    assert result.returncode == 0, result.stderr
    for name in ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "all-minilm-l6-v2", "whisper-base"):
        assert name in result.stdout


def test_migrate_against_unreachable_server_fails_fast_and_redacts(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://app:topsecretpw@127.0.0.1:{port}/db"
    start = time.monotonic()
    result = _ascent("migrate", env={"DATABASE_URL": url, "ASCENT_DATA_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert time.monotonic() - start < 30
    assert f"127.0.0.1:{port}" in result.stderr
    assert "topsecretpw" not in result.stderr + result.stdout


def test_serve_unknown_service_is_a_clear_error(tmp_path):
    result = _ascent("serve", "nosuch", env={"ASCENT_DATA_HOME": str(tmp_path)})
    assert result.returncode == 1 and "unknown service 'nosuch'" in result.stderr


@pytest.mark.slow
@pytest.mark.llm
def test_doctor_is_all_green(data_home, pg_server):
    result = _ascent(
        "doctor",
        env={"ASCENT_DATA_HOME": str(data_home), "DATABASE_URL": pg_server.url("ascent_template")},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all" in result.stdout and "checks passed" in result.stdout
    assert "✘" not in result.stdout


@pytest.mark.slow
@pytest.mark.llm
def test_up_starts_the_stack_and_stops_cleanly(tmp_path, data_home):
    home = tmp_path / "home"
    home.mkdir()
    # Reuse the assembled models; everything else (Postgres data, logs) is fresh.
    (home / "models").symlink_to(data_home / "models")
    env = {"ASCENT_DATA_HOME": str(home), "ASCENT_LLM_MODEL": "qwen2.5-coder-0.5b",
           "ASCENT_DB_PORT": "0", "COLUMNS": "200"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", "up"], env={**os.environ, **env}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(output)
        assert "ascent is up" in text, text
        db_url = re.search(r"postgresql://\S+", text).group(0)
        llm_url = re.search(r"│ llm\s+│ (http://127\.0\.0\.1:\d+/v1)", text).group(1)
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM ascent_migrations").fetchone()[0] >= 2
        assert httpx.get(llm_url.removesuffix("/v1") + "/health", timeout=5).status_code == 200
        time.sleep(1)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Everything it started is gone: the database no longer answers.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(db_url, connect_timeout=2)
    assert (home / "postgres" / "PG_VERSION").exists()  # data kept


def test_headline_metrics_of_flat_and_before_after_provenance():
    from shared.cli.main import headline_metrics

    flat = {"float32_perplexity": 3.785151, "gptq_perplexity": 3.934436, "note": "text"}
    assert headline_metrics(flat) == "float32_perplexity 3.79, gptq_perplexity 3.93"
    before_after = {
        "base q8_0": {"reviewer_valid": 1.0, "shopbot_grounded_citation": 0.25},
        "fine-tuned q8_0": {"reviewer_valid": 1.0, "shopbot_grounded_citation": 0.8333},
    }
    assert headline_metrics(before_after) == (
        "fine-tuned q8_0: reviewer_valid 1, shopbot_grounded_citation 0.833"
    )
    assert headline_metrics({}) == ""
