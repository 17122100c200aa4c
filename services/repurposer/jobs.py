"""The repurposer's background jobs (procrastinate blueprint, registered as ``repurposer``).

``repurposer:run`` drives one job through the pipeline; a retried run (worker killed, stalled
heartbeat, transient error) resumes after the last finished stage. ``regenerate`` writes a
new version of one text, ``deliver_callback`` posts the signed completion webhook with
backoff, and a nightly task removes abandoned uploads.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import httpx
import procrastinate
from psycopg_pool import AsyncConnectionPool

from services.repurposer import state
from services.repurposer.errors import PipelineError
from services.repurposer.model import Asset, Chapter, Highlight, MediaInfo, TranscriptDoc
from services.repurposer.storage import Storage, open_storage
from services.repurposer.uploads import expire_stale_uploads, source_key
from services.repurposer.workspaces import webhook_secret
from shared.billing import Billing, record_usage, whole_units
from shared.config import Settings, get_settings
from shared.jobs.process import ProcessPool
from shared.models.llm import LLMGateway

logger = logging.getLogger(__name__)
QUEUE = "repurposer"
FLUSH_SECONDS = 0.5


class Services:
    """What a job needs, built once per worker process (or handed in by tests and the CLI)."""

    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool,
        *,
        llm: LLMGateway | None = None,
        embedder: Any = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.storage: Storage = open_storage(settings)
        self.llm = llm or LLMGateway(settings)
        self._embedder = embedder

    @property
    def embedder(self):
        if self._embedder is None:
            from shared.models.embeddings import Embedder

            self._embedder = Embedder(settings=self.settings)
        return self._embedder


_process_pool = ProcessPool("repurposer-jobs")
_process_services: Services | None = None


async def _services(context: procrastinate.JobContext) -> Services:
    global _process_services
    extra: dict[str, Any] = context.additional_context or {}
    if extra.get("repurposer"):
        return extra["repurposer"]
    pool = await _process_pool.get()
    if _process_services is None:
        _process_services = Services(get_settings(), pool)
    return _process_services


class ProgressWriter:
    """Collects progress from stage threads and writes it at most every FLUSH_SECONDS."""

    def __init__(self, pool: AsyncConnectionPool, job_id: str) -> None:
        self.pool, self.job_id = pool, job_id
        self._pending: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    def report(self, stage: str, fraction: float) -> None:
        self._pending[stage] = fraction  # a dict assignment is atomic under the GIL

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for stage, fraction in pending.items():
            await state.set_stage(self.pool, self.job_id, stage, progress=fraction)

    def __enter__(self) -> ProgressWriter:
        self._task = asyncio.create_task(self._flush_forever())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()


def db_hooks(pool: AsyncConnectionPool, job_id: str, progress: ProgressWriter):
    from services.repurposer.pipeline import Hooks

    async def started(stage: str) -> None:
        await state.set_stage(pool, job_id, stage, status="running", progress=0.0)

    async def done(stage: str) -> None:
        await progress.flush()
        await state.set_stage(pool, job_id, stage, status="done", progress=1.0)

    return Hooks(
        stage_started=started,
        stage_progress=progress.report,
        stage_done=done,
        finished_stages=lambda: state.finished_stages(pool, job_id),
        load_assets=lambda: state.get_assets(pool, job_id),
        save_asset=lambda asset: state.save_asset(pool, job_id, asset, only_if_missing=True),
    )


async def run_job(services: Services, job_id: str, jobs: procrastinate.App | None = None) -> None:
    """Run (or resume) a job; ``jobs`` is the procrastinate app that delivers webhooks."""
    # Imported here: the web process defers jobs but never loads Whisper, FFmpeg or the LLM.
    from services.repurposer.pipeline import JobOptions, Pipeline

    job = await state.get_job(services.pool, job_id)
    if job is None or job["status"] in ("done", "failed"):
        return  # deleted, or a duplicate delivery of a finished job
    await state.set_job_status(services.pool, job_id, "running")
    with ProgressWriter(services.pool, job_id) as progress:
        pipeline = Pipeline(
            job_id=job_id,
            source_key=source_key(job["upload_id"]),
            media=MediaInfo.model_validate(job["media"]),
            options=JobOptions.model_validate(job["options"]),
            settings=services.settings,
            storage=services.storage,
            llm=services.llm,
            embedder=services.embedder,
            hooks=db_hooks(services.pool, job_id, progress),
        )
        try:
            await pipeline.run()
        except PipelineError as exc:
            await _fail(services, job_id, exc.code, str(exc), jobs)
            return
    # Counted before "done": a crash in between re-runs this, and the key counts it once.
    await record_usage(
        Billing(services.settings, services.pool), "repurposer", job["workspace"], "minutes",
        whole_units(job["media"]["duration"] / 60), f"repurposer:job:{job_id}",
    )  # fmt: skip
    await state.set_job_status(services.pool, job_id, "done")
    await _queue_callback(services, job_id, "job.completed", jobs)


async def _fail(
    services: Services, job_id: str, code: str, detail: str, jobs: procrastinate.App | None
) -> None:
    async with services.pool.connection() as conn:
        await conn.execute(
            "UPDATE rp_stages SET status = 'failed', error = %s, finished_at = now() "
            "WHERE job_id = %s AND status = 'running'",
            (detail, job_id),
        )
    await state.set_job_status(
        services.pool, job_id, "failed", error={"code": code, "detail": detail}
    )
    await _queue_callback(services, job_id, "job.failed", jobs)


class PipelineRetry(procrastinate.BaseRetryStrategy):
    """Transient errors back off (2, 4, 8 s); the last failure marks the job failed."""

    max_attempts = 3

    def get_retry_decision(self, *, exception: BaseException, job: procrastinate.jobs.Job):
        if isinstance(exception, PipelineError) or job.attempts >= self.max_attempts:
            return None
        return procrastinate.retry.RetryDecision(retry_in={"seconds": 2 ** (job.attempts + 1)})


async def run_task(context: procrastinate.JobContext, job_id: str) -> None:
    services = await _services(context)
    try:
        await run_job(services, job_id, context.app)
    except Exception as exc:
        attempts = context.job.attempts + 1 if context.job else PipelineRetry.max_attempts
        if attempts >= PipelineRetry.max_attempts:
            logger.exception("job %s failed for good", job_id)
            await _fail(services, job_id, "internal", f"The pipeline failed: {exc}", context.app)
        raise


async def regenerate_task(
    context: procrastinate.JobContext, job_id: str, kind: str, instruction: str
) -> None:
    from services.repurposer import writing

    services = await _services(context)
    storage = services.storage

    def load(name: str) -> Any:
        return json.loads(storage.local(f"jobs/{job_id}/{name}").read_text())

    transcript = TranscriptDoc.model_validate(load("transcript.json"))
    chapters = [Chapter.model_validate(c) for c in load("chapters.json")]
    highlights = [Highlight.model_validate(h) for h in load("highlights.json")]
    current = (await state.get_assets(services.pool, job_id)).get(kind)
    asset: Asset = await writing.write_asset(
        kind,
        services.llm,
        transcript=transcript,
        chapters=chapters,
        highlights=highlights,
        instruction=instruction,
        previous=current,
    )
    await state.save_asset(services.pool, job_id, asset)


async def _queue_callback(
    services: Services, job_id: str, event: str, jobs: procrastinate.App | None
) -> None:
    job = await state.get_job(services.pool, job_id)
    if not job or not job["callback_url"] or jobs is None:
        return
    async with services.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO rp_callbacks (job_id, url, event) VALUES (%s, %s, %s) RETURNING id",
            (job_id, job["callback_url"], event),
        )
        callback_id = (await cur.fetchone())["id"]
    await jobs.configure_task("repurposer:deliver_callback").defer_async(callback_id=callback_id)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver_callback_task(context: procrastinate.JobContext, callback_id: int) -> None:
    services = await _services(context)
    async with services.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, job_id, url, event, delivered_at FROM rp_callbacks WHERE id = %s",
            (callback_id,),
        )
        row = await cur.fetchone()
    if row is None or row["delivered_at"]:
        return
    job = await state.get_job(services.pool, row["job_id"])
    body = json.dumps({"event": row["event"], "job": job}, separators=(",", ":")).encode()
    secret = webhook_secret(services.settings, job["workspace"])
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ascent-repurposer",
        "X-Ascent-Event": row["event"],
        "X-Ascent-Signature": signature(secret, body),
    }
    status, error = None, None
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(row["url"], content=body, headers=headers)
        status = response.status_code
        if status >= 300:
            error = f"HTTP {status}"
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    async with services.pool.connection() as conn:
        await conn.execute(
            "UPDATE rp_callbacks SET attempts = attempts + 1, last_status = %s, last_error = %s, "
            "delivered_at = CASE WHEN %s::text IS NULL THEN now() END WHERE id = %s",
            (status, error, error, callback_id),
        )
    if error:
        raise RuntimeError(f"webhook to the callback URL failed: {error}")  # retried


async def expire_uploads_task(context: procrastinate.JobContext, timestamp: int) -> None:
    services = await _services(context)
    removed = await expire_stale_uploads(services.pool, services.storage, hours=24)
    logger.info("removed %d abandoned uploads", removed)


def blueprint() -> procrastinate.Blueprint:
    fresh = procrastinate.Blueprint()
    fresh.task(name="run", queue=QUEUE, retry=PipelineRetry(), pass_context=True)(run_task)
    fresh.task(name="regenerate", queue=QUEUE, retry=2, pass_context=True)(regenerate_task)
    fresh.task(
        name="deliver_callback",
        queue=QUEUE,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=8, exponential_wait=3),
    )(deliver_callback_task)
    fresh.periodic(cron="41 3 * * *")(
        fresh.task(name="expire_uploads", queue=QUEUE, pass_context=True)(expire_uploads_task)
    )
    return fresh


bp = blueprint()


def job_app(url_or_connector: str | procrastinate.BaseConnector) -> procrastinate.App:
    connector = (
        procrastinate.PsycopgConnector(conninfo=url_or_connector)
        if isinstance(url_or_connector, str)
        else url_or_connector
    )
    app = procrastinate.App(connector=connector)
    app.add_tasks_from(blueprint(), namespace="repurposer")
    return app
