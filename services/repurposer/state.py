"""Jobs and their stages in Postgres, and the wake-up notifications that drive live progress.

Each change to a job commits a ``NOTIFY rp_jobs, '<job id>'``; listeners re-read the job's
state rather than trusting the payload, so a missed or merged notification costs nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from services.repurposer.model import Asset

CHANNEL = "rp_jobs"

# (stage, share of a typical run's time): the overall progress bar is weighted by these.
STAGES: tuple[tuple[str, float], ...] = (
    ("audio", 0.03),
    ("transcribe", 0.40),
    ("chapters", 0.04),
    ("highlights", 0.06),
    ("clips", 0.30),
    ("writing", 0.14),
    ("exports", 0.03),
)
STAGE_NAMES = tuple(name for name, _ in STAGES)


async def notify(conn, job_id: str) -> None:
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, job_id))


async def create_job(
    conn, workspace: str, upload_id: str, options: dict[str, Any], callback_url: str | None
) -> str:
    """Insert the job and its stages on ``conn`` (inside the caller's transaction)."""
    job_id = uuid.uuid4().hex
    await conn.execute(
        "INSERT INTO rp_jobs (id, workspace_id, upload_id, options, callback_url) "
        "VALUES (%s, %s, %s, %s, %s)",
        (job_id, workspace, upload_id, Jsonb(options), callback_url),
    )
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO rp_stages (job_id, name, position) VALUES (%s, %s, %s)",
            [(job_id, name, i) for i, name in enumerate(STAGE_NAMES)],
        )
    return job_id


def overall_progress(stages: list[dict[str, Any]]) -> float:
    weights = dict(STAGES)
    done = sum(
        weights.get(s["name"], 0) * (1.0 if s["status"] == "done" else s["progress"])
        for s in stages
    )
    return round(min(1.0, done / sum(weights.values())), 4)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 2) if start and end else None


async def get_job(pool: AsyncConnectionPool, job_id: str, workspace: str | None = None):
    """The job as the API shows it, or None (also None when it is another workspace's)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT j.id, j.workspace_id, j.upload_id, j.status, j.options, j.callback_url, "
            "j.error, j.created_at, j.started_at, j.finished_at, u.filename, u.media "
            "FROM rp_jobs j JOIN rp_uploads u ON u.id = j.upload_id "
            "WHERE j.id = %s AND (%s::text IS NULL OR j.workspace_id = %s)",
            (job_id, workspace, workspace),
        )
        job = await cur.fetchone()
        if job is None:
            return None
        cur = await conn.execute(
            "SELECT name, status, progress, error, started_at, finished_at FROM rp_stages "
            "WHERE job_id = %s ORDER BY position",
            (job_id,),
        )
        stages = await cur.fetchall()
    return _as_api(job, stages)


def _as_api(job: dict[str, Any], stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": job["id"],
        "workspace": job["workspace_id"],
        "upload_id": job["upload_id"],
        "status": job["status"],
        "filename": job["filename"],
        "options": job["options"],
        "callback_url": job["callback_url"],
        "created_at": job["created_at"].isoformat(),
        "started_at": job["started_at"].isoformat() if job["started_at"] else None,
        "finished_at": job["finished_at"].isoformat() if job["finished_at"] else None,
        "progress": 1.0 if job["status"] == "done" else overall_progress(stages),
        "media": job["media"],
        "error": job["error"],
        "stages": [
            {
                "name": s["name"],
                "status": s["status"],
                "progress": 1.0 if s["status"] == "done" else round(s["progress"], 4),
                "seconds": _seconds(s["started_at"], s["finished_at"]),
                "error": s["error"],
            }
            for s in stages
        ],
    }


async def list_jobs(pool: AsyncConnectionPool, workspace: str, limit: int = 50) -> list[dict]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id FROM rp_jobs WHERE workspace_id = %s ORDER BY created_at DESC LIMIT %s",
            (workspace, limit),
        )
        ids = [r["id"] for r in await cur.fetchall()]
    return [job for job_id in ids if (job := await get_job(pool, job_id, workspace))]


async def finished_stages(pool: AsyncConnectionPool, job_id: str) -> set[str]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT name FROM rp_stages WHERE job_id = %s AND status = 'done'", (job_id,)
        )
        return {r["name"] for r in await cur.fetchall()}


async def set_job_status(
    pool: AsyncConnectionPool, job_id: str, status: str, *, error: dict | None = None
) -> None:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE rp_jobs SET status = %s, error = %s, "
            "started_at = CASE WHEN %s = 'running' THEN coalesce(started_at, now()) "
            "ELSE started_at END, "
            "finished_at = CASE WHEN %s IN ('done', 'failed') THEN now() ELSE NULL END "
            "WHERE id = %s",
            (status, Jsonb(error) if error else None, status, status, job_id),
        )
        await notify(conn, job_id)


async def set_stage(
    pool: AsyncConnectionPool,
    job_id: str,
    stage: str,
    *,
    status: str | None = None,
    progress: float | None = None,
    error: str | None = None,
) -> None:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE rp_stages SET status = coalesce(%(status)s, status), "
            "progress = coalesce(%(progress)s, progress), error = %(error)s, "
            "started_at = CASE WHEN %(status)s = 'running' THEN now() ELSE started_at END, "
            "finished_at = CASE WHEN %(status)s IN ('done', 'failed') THEN now() "
            "WHEN %(status)s = 'running' THEN NULL ELSE finished_at END "
            "WHERE job_id = %(job)s AND name = %(stage)s",
            {"status": status, "progress": progress, "error": error, "job": job_id, "stage": stage},
        )
        await notify(conn, job_id)


async def get_assets(pool: AsyncConnectionPool, job_id: str) -> dict[str, Asset]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT kind, version, asset FROM rp_assets WHERE job_id = %s", (job_id,)
        )
        rows = await cur.fetchall()
    return {r["kind"]: Asset.model_validate({**r["asset"], "version": r["version"]}) for r in rows}


async def save_asset(
    pool: AsyncConnectionPool, job_id: str, asset: Asset, *, only_if_missing: bool = False
) -> Asset:
    """Store a new version of ``asset`` (versions count up; an edit is a version too)."""
    conflict = (
        "NOTHING"
        if only_if_missing
        else (
            "UPDATE SET version = rp_assets.version + 1, asset = EXCLUDED.asset, updated_at = now()"
        )
    )
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            f"INSERT INTO rp_assets (job_id, kind, asset) VALUES (%s, %s, %s) "
            f"ON CONFLICT (job_id, kind) DO {conflict} RETURNING version",
            (job_id, asset.kind, Jsonb(asset.model_dump(exclude={"version"}))),
        )
        row = await cur.fetchone()
        await notify(conn, job_id)
    if row is None:
        return (await get_assets(pool, job_id))[asset.kind]
    return asset.model_copy(update={"version": row["version"]})
