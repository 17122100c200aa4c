"""Billing's background jobs (procrastinate blueprint, registered as ``billing``).

- ``billing:report_usage`` (every 5 minutes): billable usage to Stripe as meter events. A
  periodic flush, not a job per usage row: one place retries, in order, and a Stripe outage
  costs one failed call per run instead of a growing queue.
- ``billing:refresh_stale`` (hourly): re-read subscriptions whose period ended without a
  webhook saying what happened.

Both do nothing while billing is off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import procrastinate

from shared.billing import sync, usage
from shared.billing.context import Billing
from shared.config import get_settings
from shared.db import create_pool, ensure_database

logger = logging.getLogger(__name__)
QUEUE = "billing"


class _ProcessBilling:
    """One pool and one ``Billing`` per worker process, built on first use."""

    def __init__(self) -> None:
        self._billing: Billing | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Billing:
        async with self._lock:
            if self._billing is None:
                settings = get_settings()
                url = await asyncio.to_thread(ensure_database, settings)
                pool = create_pool(url, settings, name="billing-jobs")
                await pool.open(wait=True)
                self._billing = Billing(settings, pool)
            return self._billing


_process = _ProcessBilling()


async def _billing(context: procrastinate.JobContext) -> Billing:
    extra: dict[str, Any] = context.additional_context or {}
    return extra.get("billing") or await _process.get()


async def report_usage_task(context: procrastinate.JobContext, timestamp: int) -> None:
    billing = await _billing(context)
    if billing.enabled:
        result = await usage.report_usage(billing)
        if result.sent or result.duplicates or result.failed:
            logger.info("usage reported: %s", result)


async def refresh_stale_task(context: procrastinate.JobContext, timestamp: int) -> None:
    billing = await _billing(context)
    if billing.enabled:
        count = await sync.refresh_stale(billing)
        if count:
            logger.info("re-read %d subscriptions whose period had ended", count)


def blueprint() -> procrastinate.Blueprint:
    """A fresh blueprint (an app renames the tasks of the blueprint it loads)."""
    fresh = procrastinate.Blueprint()
    fresh.periodic(cron="*/5 * * * *")(
        fresh.task(name="report_usage", queue=QUEUE, pass_context=True, retry=0)(report_usage_task)
    )
    fresh.periodic(cron="23 * * * *")(
        fresh.task(name="refresh_stale", queue=QUEUE, pass_context=True, retry=0)(
            refresh_stale_task
        )
    )
    return fresh


bp = blueprint()
