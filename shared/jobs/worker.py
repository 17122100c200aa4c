"""``ascent worker``: run jobs, and put back the jobs of workers that died mid-run.

procrastinate workers write a heartbeat; a job still marked ``doing`` whose worker has been
silent for ``ASCENT_JOB_STALLED_AFTER`` seconds is retried, so a worker killed with SIGKILL
(OOM, node loss) does not lose its job. Any number of workers can run against one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate

from shared.config import Settings

logger = logging.getLogger(__name__)


async def retry_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    count = 0
    for job in stalled:
        logger.warning("retrying job %s (%s): its worker stopped responding", job.id, job.task_name)
        await app.job_manager.retry_job(job)
        count += 1
    return count


async def _reap_forever(app: procrastinate.App, settings: Settings) -> None:
    while True:
        try:
            await retry_stalled_jobs(app, settings.job_stalled_after)
        except Exception:  # a reaper failure must never take the worker down
            logger.exception("stalled-job check failed")
        await asyncio.sleep(max(1.0, settings.job_heartbeat_interval))


async def run_worker(
    app: procrastinate.App,
    settings: Settings,
    *,
    concurrency: int | None = None,
    queues: list[str] | None = None,
    name: str | None = None,
) -> None:
    queues = queues or [q.strip() for q in settings.worker_queues.split(",") if q.strip()] or None
    async with app.open_async():
        reaper = asyncio.create_task(_reap_forever(app, settings))
        try:
            await app.run_worker_async(
                concurrency=concurrency or settings.worker_concurrency,
                queues=queues,
                name=name,
                update_heartbeat_interval=settings.job_heartbeat_interval,
                stalled_worker_timeout=settings.job_stalled_after,
                install_signal_handlers=True,
            )
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
