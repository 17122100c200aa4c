"""The reviewer's background jobs (procrastinate blueprint, registered as ``reviewer``).

``reviewer:handle_delivery`` runs one stored webhook delivery. Its retry strategy follows the
failure: a rate limit waits for the reset, an uninstalled or suspended installation is tried
again for days (the delivery is never dropped), anything else backs off exponentially.
Deliveries of one pull request share a procrastinate lock, so they run one at a time, in order.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import procrastinate
from procrastinate.retry import RetryDecision
from psycopg_pool import AsyncConnectionPool

from services.reviewer.github.client import (
    ConfigurationError,
    GitHubApp,
    InstallationGone,
    RateLimited,
)
from services.reviewer.github.service import Reviewer, handle_delivery
from services.reviewer.github.store import prune_deliveries
from shared.config import get_settings
from shared.db import create_pool, ensure_database
from shared.models.llm import LLMGateway

logger = logging.getLogger(__name__)

QUEUE = "reviewer"


class ReviewerRetry(procrastinate.BaseRetryStrategy):
    """Retry by cause; ``job.attempts`` counts the attempts made so far."""

    max_attempts = 8
    gone_attempts = 60  # about three days at the hourly cap

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> RetryDecision | None:
        attempts = job.attempts
        if isinstance(exception, ConfigurationError):
            return None  # retrying cannot fix the App's settings; the log says what to set
        if isinstance(exception, RateLimited):
            if attempts >= self.max_attempts * 2:
                return None
            wait = (exception.retry_at - datetime.now(UTC)).total_seconds()
            return RetryDecision(retry_in={"seconds": max(1, round(wait)) + 1})
        if isinstance(exception, InstallationGone):
            if attempts >= self.gone_attempts:
                return None
            return RetryDecision(retry_in={"seconds": min(3600, 60 * 2 ** min(attempts, 6))})
        if attempts >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": 2 ** (attempts + 1)})


class _ProcessReviewer:
    """One pool and one Reviewer per worker process, built on first use from Settings."""

    def __init__(self) -> None:
        self._pool: AsyncConnectionPool | None = None
        self._reviewer: Reviewer | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> AsyncConnectionPool:
        async with self._lock:
            if self._pool is None:
                settings = get_settings()
                url = await asyncio.to_thread(ensure_database, settings)
                pool = create_pool(url, settings, name="reviewer-jobs")
                await pool.open(wait=True)
                self._pool = pool
            return self._pool

    async def reviewer(self) -> Reviewer:
        if self._reviewer is None:
            settings = get_settings()
            github = GitHubApp.from_settings(settings)  # fails fast, naming the missing setting
            self._reviewer = Reviewer(await self.pool(), settings, github, LLMGateway(settings))
        return self._reviewer


_process = _ProcessReviewer()


async def handle_delivery_job(context: procrastinate.JobContext, delivery_id: str) -> None:
    # A worker may hand its own Reviewer in (tests, embedding); `ascent worker` builds one.
    extra: dict[str, Any] = context.additional_context or {}
    reviewer = extra.get("reviewer") or await _process.reviewer()
    await handle_delivery(reviewer, delivery_id)


async def prune_deliveries_job(context: procrastinate.JobContext, timestamp: int) -> None:
    extra: dict[str, Any] = context.additional_context or {}
    reviewer = extra.get("reviewer")
    removed = await prune_deliveries(reviewer.pool if reviewer else await _process.pool())
    logger.info("pruned %d processed webhook deliveries older than 30 days", removed)


def blueprint() -> procrastinate.Blueprint:
    """A fresh blueprint of the reviewer's tasks. procrastinate renames a blueprint's tasks
    when an app loads it, so every app (web process, worker, test) gets its own."""
    fresh = procrastinate.Blueprint()
    fresh.task(name="handle_delivery", queue=QUEUE, retry=ReviewerRetry(), pass_context=True)(
        handle_delivery_job
    )
    fresh.periodic(cron="17 4 * * *")(
        fresh.task(name="prune_deliveries", queue=QUEUE, pass_context=True)(prune_deliveries_job)
    )
    return fresh


def job_app(url_or_connector: str | procrastinate.BaseConnector) -> procrastinate.App:
    """A procrastinate app with just the reviewer's tasks, under their ``reviewer:`` names."""
    connector = (
        procrastinate.PsycopgConnector(conninfo=url_or_connector)
        if isinstance(url_or_connector, str)
        else url_or_connector
    )
    app = procrastinate.App(connector=connector)
    app.add_tasks_from(blueprint(), namespace="reviewer")
    return app


# Registered under the ``ascent.jobs`` entry point; `ascent worker` loads it once.
bp = blueprint()
