"""``ascent repurpose FILE`` end to end on this machine (no database): an output folder with
clips, texts and exports; a second run resumes instead of starting over; bad input is named.

The LLM endpoint refuses connections here, so the run also proves the pipeline completes on
its fallbacks; the real model is exercised by the service's end-to-end tests."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import zipfile

import pytest

pytestmark = pytest.mark.slow


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def repurpose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shared.cli.main", "repurpose", *args],
                          env=env, capture_output=True, text=True, timeout=900)  # fmt: skip


@pytest.fixture
def env(data_home, tmp_path, monkeypatch):
    import os

    return {**os.environ, "ASCENT_DATA_HOME": str(data_home), "ASCENT_LLM_MAX_RETRIES": "0",
            "ASCENT_LLM_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
            "ASCENT_REPURPOSER_CLIP_HEIGHT": "360", "COLUMNS": "160"}  # fmt: skip


def test_repurpose_writes_a_folder_and_resumes(sample_talk, tmp_path, env):
    audio = tmp_path / "talk.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(sample_talk.audio), "-t", "50",
                    str(audio)], check=True)  # fmt: skip
    out = tmp_path / "out"
    first = repurpose(str(audio), "--out", str(out), "--clips", "1", "--aspect", "9:16", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert re.search(r"real-time\s+factor", first.stdout), first.stdout
    clips = sorted((out / "clips").glob("*.mp4"))
    assert len(clips) == 1 and clips[0].name.endswith("9x16.mp4")
    assert (out / "clips" / clips[0].name.replace(".mp4", ".jpg")).exists()
    stages = json.loads((out / ".stages.json").read_text())
    assert set(stages.values()) == {"done"} and len(stages) == 7
    with zipfile.ZipFile(out / "exports" / "repurposed.zip") as archive:
        names = set(archive.namelist())
    assert {"transcript.srt", "transcript.vtt", "transcript.txt", "transcript.docx",
            "posts/blog.md"} <= names  # fmt: skip

    before = clips[0].stat().st_mtime_ns
    again = repurpose(str(audio), "--out", str(out), env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert clips[0].stat().st_mtime_ns == before  # nothing was rendered again


def test_bad_input_is_named(tmp_path, env):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n" * 100)
    result = repurpose(str(notes), env=env)
    assert result.returncode == 1
    assert "notes.mp4" in result.stderr and "not an audio or video file" in result.stderr
    missing = repurpose(str(tmp_path / "nope.mp3"), env=env)
    assert missing.returncode == 1 and "is not a file" in missing.stderr
