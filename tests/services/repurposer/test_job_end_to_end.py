"""A whole job through the real parts: tus upload → procrastinate worker → Whisper, embeddings,
the 0.5B llama.cpp model and FFmpeg → results, signed files, live events and the webhook.

One recording (the 2.3-minute espeak talk as an H.264 video) is processed once per module;
the tests then check different properties of the same finished job.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import subprocess
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient

from services.repurposer.app import create_repurposer_app
from services.repurposer.jobs import Services, job_app
from services.repurposer.wer import word_error_rate
from services.repurposer.workspaces import create_workspace, webhook_secret
from shared.models.llm import LLMGateway

pytestmark = [pytest.mark.llm, pytest.mark.slow, pytest.mark.timeout(1800)]
TUS = {"Tus-Resumable": "1.0.0"}


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict, bytes]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hook_url():
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def tus_upload(client, headers, path) -> str:
    data = path.read_bytes()
    created = client.post(
        "/v1/uploads", headers={**headers, **TUS, "Upload-Length": str(len(data))}
    )
    location = created.headers["Location"]
    response = client.patch(location, content=data, headers={
        **headers, **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
    })  # fmt: skip
    assert response.status_code == 204, response.text
    return location.rsplit("/", 1)[-1]


async def run_worker(database_url, services) -> None:
    app = job_app(database_url)
    async with app.open_async():
        await app.run_worker_async(queues=["repurposer"], wait=False,
                                   install_signal_handlers=False,
                                   additional_context={"repurposer": services})  # fmt: skip


@pytest.fixture
async def finished(settings, pool, database_url, llm_base_url, talk_video, tmp_path, hook_url):
    """The talk, repurposed: (client, headers, job, results, settings)."""
    rp = settings.model_copy(update={
        "repurposer_storage_url": f"file://{tmp_path / 'store'}", "repurposer_demo": False,
        "llm_base_url": llm_base_url, "repurposer_clip_height": 360,
    })  # fmt: skip
    key = await create_workspace(pool, "studio")
    headers = {"Authorization": f"Bearer {key}"}
    Hook.received.clear()
    with TestClient(create_repurposer_app(rp)) as client:
        upload_id = tus_upload(client, headers, talk_video)
        created = client.post("/v1/jobs", headers=headers, json={
            "upload_id": upload_id, "clips": 2, "aspects": ["16:9", "9:16"],
            "callback_url": hook_url,
        })  # fmt: skip
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        llm = LLMGateway(rp)
        services = Services(rp, pool, llm=llm)
        await run_worker(database_url, services)
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        assert job["status"] == "done", job
        results = client.get(f"/v1/jobs/{job_id}/results", headers=headers).json()
        yield client, headers, job, results, rp, services
        await llm.aclose()


def fetch(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text)
    return response.content


def ffprobe_streams(data: bytes, tmp_path) -> dict[str, dict]:
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


async def test_a_talk_is_repurposed_end_to_end(finished, sample_talk, tmp_path, database_url):
    """One job (processing is the expensive part), checked from every side."""
    check_outputs(*finished, sample_talk, tmp_path)
    await check_events_webhook_edit_and_regenerate(*finished, database_url)


def check_outputs(client, headers, job, results, settings, services, sample_talk, tmp_path):
    assert [s["status"] for s in job["stages"]] == ["done"] * 7
    assert job["progress"] == 1.0

    # Transcript against the script that was spoken.
    wer = word_error_rate(sample_talk.script, results["transcript"]["text"])
    print(f"WER {wer:.3f}")
    assert wer <= 0.15

    transcript = client.get(f"/v1/jobs/{job['id']}/transcript", headers=headers).json()
    starts = {s["start"] for s in transcript["sentences"]}
    ends = {s["end"] for s in transcript["sentences"]}
    assert len(results["chapters"]) >= 2
    assert all(c["title"] for c in results["chapters"])

    # Highlights: whole sentences, 15-60 s, scored and explained.
    assert 1 <= len(results["highlights"]) <= 2
    for h in results["highlights"]:
        assert h["start"] in starts and h["end"] in ends
        assert 15 <= h["end"] - h["start"] <= 60
        assert 0 <= h["score"] <= 100 and h["reasons"]

    # Clips: every highlight in both formats, audio and video starting together.
    assert len(results["clips"]) == 2 * len(results["highlights"])
    for clip in results["clips"]:
        streams = ffprobe_streams(fetch(client, clip["url"]), tmp_path)
        video, audio = streams["video"], streams["audio"]
        assert abs(float(video["start_time"]) - float(audio["start_time"])) < 0.05
        highlight = results["highlights"][[h["index"] for h in results["highlights"]].index(
            clip["highlight"])]  # fmt: skip
        assert abs(float(video["duration"]) - (highlight["end"] - highlight["start"])) < 0.25
        expected = (640, 360) if clip["aspect"] == "16:9" else (360, 640)
        assert (video["width"], video["height"]) == expected
        assert fetch(client, clip["thumbnail_url"])[:3] == b"\xff\xd8\xff"  # JPEG

    # Texts: all six, every quote verbatim in the transcript.
    assert set(results["assets"]) == {"blog", "thread", "linkedin", "instagram", "newsletter",
                                      "show_notes"}  # fmt: skip
    spoken = _norm(results["transcript"]["text"])
    for asset in results["assets"].values():
        assert asset["body"].strip()
        for quote in asset["quotes"]:
            assert _norm(quote["text"]) in spoken, quote
    assert results["assets"]["blog"]["body"].lstrip().startswith("#")

    # Exports: subtitles parse, and the zip holds everything.
    srt = fetch(client, results["exports"]["srt"]).decode()
    assert re.search(r"^1\r?\n00:00:\d\d,\d{3} --> ", srt, re.M)
    archive = zipfile.ZipFile(io.BytesIO(fetch(client, results["exports"]["zip"])))
    names = set(archive.namelist())
    assert {"transcript.srt", "transcript.vtt", "transcript.docx"} <= names
    assert sum(n.endswith(".mp4") for n in names) == len(results["clips"])

    # Signed links: tampering or another job's path is refused.
    bad = results["exports"]["zip"].replace("signature=", "signature=0")
    assert client.get(bad).status_code == 403


async def check_events_webhook_edit_and_regenerate(
    client, headers, job, results, settings, services, database_url
):
    with client.stream("GET", f"/v1/jobs/{job['id']}/events", headers=headers) as stream:
        text = "".join(stream.iter_text())
    events = re.findall(r"^event: (\w+)$", text, re.M)
    assert events.count("progress") == 7 and events[-1] == "done"

    # The webhook arrived once, signed with the workspace's secret.
    assert len(Hook.received) == 1
    hook_headers, body = Hook.received[0]
    secret = webhook_secret(settings, "studio")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hook_headers["X-Ascent-Signature"] == expected
    assert json.loads(body)["event"] == "job.completed"

    edited = client.put(f"/v1/jobs/{job['id']}/assets/linkedin", headers=headers,
                        json={"body": "My own words."})  # fmt: skip
    assert edited.json()["version"] == 2 and edited.json()["edited"] is True
    queued = client.post(f"/v1/jobs/{job['id']}/assets/linkedin/regenerate", headers=headers,
                         json={"instruction": "more casual"})  # fmt: skip
    assert queued.status_code == 202
    await run_worker(database_url, services)
    regenerated = client.get(f"/v1/jobs/{job['id']}/assets/linkedin", headers=headers).json()
    assert regenerated["version"] == 3
    assert regenerated["instruction"] == "more casual"
    assert regenerated["body"] != "My own words."

    # Another workspace sees none of it.
    other = await create_workspace(services.pool, "other")
    other_headers = {"Authorization": f"Bearer {other}"}
    assert client.get(f"/v1/jobs/{job['id']}", headers=other_headers).status_code == 404
    assert client.get(f"/v1/jobs/{job['id']}/results", headers=other_headers).status_code == 404
    assert client.get("/v1/jobs", headers=other_headers).json() == []


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()
