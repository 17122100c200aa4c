"""The reviewer's job blueprint: registration, retry by cause, pruning, and what a worker
without App settings does."""

from datetime import UTC, datetime, timedelta

import procrastinate
import pytest

from services.reviewer.github import store
from services.reviewer.github.client import (
    ConfigurationError,
    GitHubUnavailable,
    InstallationGone,
    RateLimited,
)
from services.reviewer.jobs import QUEUE, ReviewerRetry, _ProcessReviewer
from shared.cli.stack import registered_services
from shared.jobs import create_job_app


def _job(attempts: int) -> procrastinate.jobs.Job:
    return procrastinate.jobs.Job(
        id=1,
        queue=QUEUE,
        lock=None,
        queueing_lock=None,
        task_name="reviewer:handle_delivery",
        attempts=attempts,
    )


def _wait(decision) -> float:
    return (decision.retry_at - datetime.now(UTC)).total_seconds()


def test_worker_and_services_find_the_reviewer_through_entry_points():
    app = create_job_app("postgresql://nobody@127.0.0.1:1/none")
    task = app.tasks["reviewer:handle_delivery"]
    assert task.queue == QUEUE and isinstance(task.retry_strategy, ReviewerRetry)
    assert "reviewer:prune_deliveries" in app.tasks
    assert any(
        p.task.name == "reviewer:prune_deliveries"
        for p in app.periodic_registry.periodic_tasks.values()
    )
    assert registered_services()["reviewer"] == "services.reviewer.app:create_reviewer_app"


def test_retry_follows_the_cause():
    retry = ReviewerRetry()
    transient = GitHubUnavailable("502")
    assert 1 < _wait(retry.get_retry_decision(exception=transient, job=_job(0))) <= 2
    assert 15 < _wait(retry.get_retry_decision(exception=transient, job=_job(3))) <= 16
    assert retry.get_retry_decision(exception=transient, job=_job(8)) is None

    reset = datetime.now(UTC) + timedelta(minutes=20)
    limited = RateLimited("limited", reset)
    assert 1190 < _wait(retry.get_retry_decision(exception=limited, job=_job(5))) < 1210

    gone = InstallationGone("uninstalled")
    waits = [_wait(retry.get_retry_decision(exception=gone, job=_job(n))) for n in (0, 2, 10)]
    assert waits[0] < waits[1] < waits[2] <= 3600
    assert retry.get_retry_decision(exception=gone, job=_job(59)) is not None
    assert retry.get_retry_decision(exception=gone, job=_job(60)) is None

    assert retry.get_retry_decision(exception=ConfigurationError("x"), job=_job(0)) is None


async def test_a_worker_without_app_settings_says_what_to_set(monkeypatch):
    from services.reviewer import jobs
    from shared.config import Settings

    monkeypatch.setattr(jobs, "get_settings", lambda: Settings(reviewer_github_app_id=None))
    with pytest.raises(ConfigurationError, match="ASCENT_REVIEWER_GITHUB_APP_ID"):
        await _ProcessReviewer().reviewer()


async def test_prune_removes_only_old_processed_deliveries(pool):
    async with pool.connection() as conn, conn.transaction():
        for delivery_id in ("old-done", "old-pending", "new-done"):
            await store.record_delivery(conn, delivery_id, "ping", {}, "{}")
        await conn.execute(
            "UPDATE reviewer_deliveries SET received_at = now() - interval '40 days'"
            " WHERE id LIKE 'old-%'"
        )
    await store.finish_delivery(pool, "old-done", "ok")
    await store.finish_delivery(pool, "new-done", "ok")
    assert await store.prune_deliveries(pool) == 1
    async with pool.connection() as conn:
        left = {
            r["id"]
            for r in await (await conn.execute("SELECT id FROM reviewer_deliveries")).fetchall()
        }
    assert left == {"old-pending", "new-done"}


async def test_nul_characters_in_payloads_are_stored(pool):
    async with pool.connection() as conn, conn.transaction():
        raw = '{"action": "opened", "body": "a\\u0000b"}'
        assert await store.record_delivery(conn, "nul", "pull_request", {"action": "opened"}, raw)
    assert (await store.load_delivery(pool, "nul"))["payload"]["body"] == "a\ufffdb"
