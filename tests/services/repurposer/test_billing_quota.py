"""The repurposer's plan: minutes per month and paid clip formats, checked when a job starts;
minutes counted once when it completes."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.repurposer import jobs as rp_jobs
from services.repurposer import state
from services.repurposer.app import create_repurposer_app
from services.repurposer.workspaces import create_workspace
from shared.billing import Billing, record_usage

MEDIA = {
    "format_name": "wav", "duration": 150.0, "size": 4_800_000, "has_video": False,
    "has_audio": True, "audio_codec": "pcm_s16le", "sample_rate": 16000, "channels": 1,
}  # fmt: skip


@pytest.fixture
def rp_settings(settings, tmp_path):
    return settings.model_copy(update={
        "repurposer_storage_url": f"file://{tmp_path / 'store'}", "repurposer_demo": False,
        "llm_base_url": "http://127.0.0.1:9/v1", "billing_enabled": True,
    })  # fmt: skip


@pytest.fixture
async def key(pool):
    return await create_workspace(pool, "quota-ws")


def ready_upload(database_url: str, duration: float = 150.0) -> str:
    upload_id = uuid.uuid4().hex
    with psycopg.connect(database_url) as conn:
        conn.execute(
            'INSERT INTO rp_uploads (id, workspace_id, filename, length, "offset", status, '
            "media) VALUES (%s, 'quota-ws', 'talk.wav', 10, 10, 'ready', %s)",
            (upload_id, json.dumps({**MEDIA, "duration": duration})),
        )
    return upload_id


def start(client, key, upload_id, **options):
    return client.post("/v1/jobs", json={"upload_id": upload_id, **options},
                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def test_free_workspaces_get_their_minutes_and_free_formats(rp_settings, key, database_url):
    with TestClient(create_repurposer_app(rp_settings)) as client:
        job = start(client, key, ready_upload(database_url))
        assert job.status_code == 201, job.text
        assert job.json()["options"]["aspects"] == ["16:9"]  # 9:16 is a paid format
        for paid in ({"aspects": ["16:9", "9:16"]}, {"callback_url": "https://example.com/h"},
                     {"style": {"font": "Inter"}}):  # fmt: skip
            refused = start(client, key, ready_upload(database_url), **paid)
            assert refused.status_code == 402, paid
            assert refused.json()["code"] == "feature_not_in_plan"
            assert refused.json()["upgrade_url"].endswith("/pricing/repurposer")


async def test_a_recording_longer_than_the_minutes_left_is_refused(
    rp_settings, key, pool, database_url
):
    billing = Billing(rp_settings, pool)
    await record_usage(billing, "repurposer", "quota-ws", "minutes", 58, "earlier-job")
    upload_id = ready_upload(database_url, duration=150.0)  # 3 minutes
    with TestClient(create_repurposer_app(rp_settings)) as client:
        refused = start(client, key, upload_id)
        assert refused.status_code == 402
        body = refused.json()
        assert (body["code"], body["plan"], body["limit"], body["used"]) == (
            "quota_exceeded", "free", 60, 58,
        )  # fmt: skip
        assert start(client, key, ready_upload(database_url, duration=90.0)).status_code == 201


def test_without_billing_every_format_is_allowed(rp_settings, key, database_url):
    settings = rp_settings.model_copy(update={"billing_enabled": False})
    with TestClient(create_repurposer_app(settings)) as client:
        job = start(client, key, ready_upload(database_url), aspects=["9:16"])
        assert job.status_code == 201 and job.json()["options"]["aspects"] == ["9:16"]


async def test_a_completed_job_counts_its_minutes_once(rp_settings, key, pool, monkeypatch):
    class InstantPipeline:
        def __init__(self, **kwargs) -> None:
            pass

        async def run(self) -> None:
            return None

    monkeypatch.setattr("services.repurposer.pipeline.Pipeline", InstantPipeline)
    upload_id = ready_upload(str(pool.conninfo), duration=61.0)
    async with pool.connection() as conn:
        job_id = await state.create_job(conn, "quota-ws", upload_id, {}, None)
    services = rp_jobs.Services(rp_settings, pool, llm=object(), embedder=object())
    await rp_jobs.run_job(services, job_id)
    # A worker that died after counting runs the job again: still counted once.
    await state.set_job_status(pool, job_id, "running")
    await rp_jobs.run_job(services, job_id)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT tenant, meter, quantity FROM billing_usage")
        rows = await cur.fetchall()
    assert rows == [{"tenant": "quota-ws", "meter": "minutes", "quantity": 2}]
