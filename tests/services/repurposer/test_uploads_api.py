"""tus uploads through the real app and Postgres: the happy path, resumption after a cut-off
connection, and every kind of bad input (a clear 4xx, nothing half-written left behind)."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient

from services.repurposer.app import create_repurposer_app
from services.repurposer.workspaces import create_workspace

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = 256 * 1024


@pytest.fixture
def rp_settings(settings, tmp_path):
    return settings.model_copy(update={
        "repurposer_storage_url": f"file://{tmp_path / 'store'}", "repurposer_demo": False,
        "repurposer_max_upload_mb": 8, "repurposer_max_duration": 600.0,
    })  # fmt: skip


@pytest.fixture
async def keys(pool):
    return {name: await create_workspace(pool, name) for name in ("alpha", "beta")}


@pytest.fixture
def client(rp_settings, keys):
    with TestClient(create_repurposer_app(rp_settings)) as test_client:
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **TUS}


def metadata(filename: str) -> str:
    return "filename " + base64.b64encode(filename.encode()).decode()


def create(client, key: str, size: int, filename: str = "talk.mp4") -> str:
    response = client.post("/v1/uploads", headers={
        **auth(key), "Upload-Length": str(size), "Upload-Metadata": metadata(filename),
    })  # fmt: skip
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def patch(client, key: str, location: str, offset: int, data: bytes):
    return client.patch(location, content=data, headers={
        **auth(key), "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
    })  # fmt: skip


def upload(client, key: str, path: Path, filename: str | None = None):
    data = path.read_bytes()
    location = create(client, key, len(data), filename or path.name)
    response = None
    for offset in range(0, len(data), CHUNK):
        response = patch(client, key, location, offset, data[offset : offset + CHUNK])
        if response.status_code != 204:
            break
    return location, response


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def test_chunked_upload_is_probed_and_ready(client, keys, talk_video, tmp_path):
    location, last = upload(client, keys["alpha"], talk_video)
    assert last.status_code == 204
    assert last.headers["Upload-Offset"] == str(talk_video.stat().st_size)
    state = client.get(location, headers=auth(keys["alpha"])).json()
    assert state["status"] == "ready"
    assert state["media"]["has_video"] and state["media"]["has_audio"]
    assert abs(state["media"]["duration"] - 136.6) < 1.0
    stored = tmp_path / "store" / "uploads" / state["id"] / "source"
    assert hashlib.sha256(stored.read_bytes()).digest() == (
        hashlib.sha256(talk_video.read_bytes()).digest()
    )
    options = client.options("/v1/uploads")
    assert options.headers["Tus-Version"] == "1.0.0"
    assert int(options.headers["Tus-Max-Size"]) == 8 * 1024 * 1024


def test_protocol_errors_are_clear(client, keys, talk_video):
    key = keys["alpha"]
    location = create(client, key, 1000)
    wrong_offset = patch(client, key, location, 10, b"x" * 10)
    assert wrong_offset.status_code == 409
    assert wrong_offset.json()["code"] == "offset_mismatch"
    no_type = client.patch(location, content=b"x", headers={**auth(key), "Upload-Offset": "0"})
    assert no_type.status_code == 415
    no_tus = client.post("/v1/uploads", headers={"Authorization": f"Bearer {key}",
                                                 "Upload-Length": "10"})  # fmt: skip
    assert no_tus.status_code == 412
    missing_length = client.post("/v1/uploads", headers=auth(key))
    assert missing_length.status_code == 400
    too_much = patch(client, key, location, 0, b"x" * 1001)
    assert too_much.status_code == 413
    assert client.head(location, headers=auth(key)).headers["Upload-Offset"] == "0"
    unauthenticated = client.post("/v1/uploads", headers={**TUS, "Upload-Length": "10"})
    assert unauthenticated.status_code == 401


def test_oversized_and_empty_uploads_are_refused(client, keys):
    too_big = client.post("/v1/uploads", headers={
        **auth(keys["alpha"]), "Upload-Length": str(9 * 1024 * 1024),
    })  # fmt: skip
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "upload_too_large"
    assert "8 MiB" in too_big.json()["detail"]
    empty = client.post("/v1/uploads", headers={**auth(keys["alpha"]), "Upload-Length": "0"})
    assert empty.status_code == 422
    assert empty.json()["code"] == "empty"


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, sample_talk, talk_video) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    files = {}
    files["not_media"] = folder / "notes.mp4"
    files["not_media"].write_text("These are my meeting notes, not a video.\n" * 50)
    files["random"] = folder / "noise.wav"
    files["random"].write_bytes(os.urandom(50_000))
    files["silent"] = folder / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "8", str(files["silent"]))
    files["truncated"] = folder / "cut.mp4"
    data = talk_video.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["no_audio"] = folder / "mute.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "4", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(files["no_audio"]))  # fmt: skip
    # A stream FFmpeg cannot decode: an audio track whose codec tag it has no decoder for.
    files["unsupported"] = folder / "odd.mkv"
    ffmpeg("-f", "lavfi", "-i", "sine=d=4", "-c:a", "pcm_s16le", str(folder / "tone.wav"))
    files["unsupported"] = _unknown_codec_mkv(folder / "tone.wav", folder / "odd.mkv")
    return files


def _unknown_codec_mkv(wav: Path, out: Path) -> Path:
    """A Matroska file whose audio is raw PCM but labelled with a codec id FFmpeg lacks."""
    ffmpeg("-i", str(wav), "-c:a", "pcm_s16le", str(out))
    data = out.read_bytes().replace(b"A_PCM/INT/LIT", b"A_XYZ/INT/LIT", 1)
    out.write_bytes(data)
    return out


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("not_media", "not_media"),
        ("random", "not_media"),
        ("silent", "silent"),
        ("truncated", "truncated"),
        ("no_audio", "no_streams"),
        ("unsupported", "unsupported_codec"),
    ],
)
def test_bad_media_gets_422_and_leaves_nothing_behind(
    client, keys, bad_files, name, code, tmp_path, database_url
):
    location, last = upload(client, keys["alpha"], bad_files[name])
    assert last.status_code == 422, last.text
    body = last.json()
    assert body["code"] == code, body
    assert str(tmp_path) not in body["detail"]  # no server paths in messages
    upload_id = location.rsplit("/", 1)[-1]
    assert not (tmp_path / "store" / "uploads" / upload_id).exists()
    job = client.post("/v1/jobs", json={"upload_id": upload_id},
                      headers={"Authorization": f"Bearer {keys['alpha']}"})  # fmt: skip
    assert job.status_code == 422
    assert job.json()["code"] == code
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM rp_jobs").fetchone()[0] == 0
        status = conn.execute("SELECT status FROM rp_uploads").fetchone()[0]
    assert status == "failed"


def test_path_traversal_name_is_display_text_only(client, keys, sample_talk, tmp_path):
    evil = "../../../etc/cron.d/evil\x00.wav"
    location, last = upload(client, keys["alpha"], sample_talk.audio, filename=evil)
    assert last.status_code == 204
    state = client.get(location, headers=auth(keys["alpha"])).json()
    assert state["filename"] == "evil.wav"
    stored = list((tmp_path / "store").rglob("*"))
    assert all(p.is_relative_to(tmp_path / "store") for p in stored)
    assert not any("evil" in p.name for p in stored)


def test_workspaces_cannot_touch_each_other(client, keys, sample_talk):
    location, last = upload(client, keys["alpha"], sample_talk.audio)
    assert last.status_code == 204
    upload_id = location.rsplit("/", 1)[-1]
    other = keys["beta"]
    assert client.head(location, headers=auth(other)).status_code == 404
    assert client.get(location, headers=auth(other)).status_code == 404
    assert patch(client, other, location, 0, b"x").status_code == 404
    assert client.delete(location, headers=auth(other)).status_code == 404
    job = client.post("/v1/jobs", json={"upload_id": upload_id},
                      headers={"Authorization": f"Bearer {other}"})  # fmt: skip
    assert job.status_code == 404
    assert client.get(location, headers=auth(keys["alpha"])).json()["status"] == "ready"


# -- a real server, so a connection can really be cut mid-body -------------------------------
@pytest.fixture
def server(rp_settings, keys):
    app = create_repurposer_app(rp_settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not uv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", port
    uv.should_exit = True
    thread.join(timeout=10)


def test_cut_off_upload_resumes_byte_identical(server, keys, talk_video):
    base, port = server
    key = keys["alpha"]
    data = talk_video.read_bytes()
    with httpx.Client(base_url=base) as http:
        created = http.post("/v1/uploads", headers={
            **auth(key), "Upload-Length": str(len(data)), "Upload-Metadata": metadata("t.mp4"),
        })  # fmt: skip
        location = created.headers["Location"]
        # Promise the whole file, send 40% of it, then drop the connection.
        sent = int(len(data) * 0.4)
        with socket.create_connection(("127.0.0.1", port)) as raw:
            head = (f"PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                    f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                    f"Content-Type: application/offset+octet-stream\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n")  # fmt: skip
            raw.sendall(head.encode() + data[:sent])
            time.sleep(0.5)
        offset = 0
        for _ in range(50):
            offset = int(http.head(location, headers=auth(key)).headers["Upload-Offset"])
            if offset:
                break
            time.sleep(0.1)
        assert 0 < offset <= sent
        upload_id = location.rsplit("/", 1)[-1]
        early = http.post("/v1/jobs", json={"upload_id": upload_id},
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert early.status_code == 409
        assert early.json()["code"] == "upload_incomplete"
        rest = http.patch(location, content=data[offset:], headers={
            **auth(key), "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        })  # fmt: skip
        assert rest.status_code == 204, rest.text
        state = http.get(location, headers=auth(key)).json()
    assert state["status"] == "ready"
    assert state["length"] == len(data)


async def test_an_organisation_key_acts_for_its_own_workspace(rp_settings, pool, keys, sample_talk):
    from shared.accounts import create_org, create_org_key, org_for_tenant

    org = await create_org(pool, "Acme Media")
    org_key = await create_org_key(pool, org, "uploader", ("repurposer",))
    with TestClient(create_repurposer_app(rp_settings)) as client:
        location, last = upload(client, org_key, sample_talk.audio)
        assert last.status_code == 204
        assert client.get(location, headers=auth(org_key)).json()["status"] == "ready"
        # The workspace made for the organisation is linked to it, and no one else's.
        assert client.get(location, headers=auth(keys["alpha"])).status_code == 404
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT workspace_id FROM rp_uploads")
        workspace = (await cur.fetchone())["workspace_id"]
    assert await org_for_tenant(pool, "repurposer", workspace) == org
