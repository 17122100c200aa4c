"""Billing's background jobs (procrastinate blueprint, registered as ``billing``).

- ``billing:report_usage`` (every 5 minutes): billable usage to Stripe as meter events. A
  periodic flush, not a job per usage row: one place retries, in order, and a Stripe outage
  costs one failed call per run instead of a growing queue.
- ``billing:refresh_stale`` (hourly): re-read subscriptions whose period ended without a
  webhook saying what happened.

Both do nothing while billing is off.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate

from shared.billing import sync, usage
from shared.billing.context import Billing
from shared.config import get_settings
from shared.jobs.process import ProcessPool

logger = logging.getLogger(__name__)
QUEUE = "billing"


_process_pool = ProcessPool("billing-jobs")
_process_billing: Billing | None = None


async def _billing(context: procrastinate.JobContext) -> Billing:
    """The test's or embedder's ``Billing``, else one per worker process."""
    global _process_billing
    extra: dict[str, Any] = context.additional_context or {}
    if extra.get("billing"):
        return extra["billing"]
    pool = await _process_pool.get()
    if _process_billing is None:
        _process_billing = Billing(get_settings(), pool)
    return _process_billing


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
