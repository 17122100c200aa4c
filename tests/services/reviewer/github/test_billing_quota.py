"""The reviewer's plan: each pull request reviewed counts once a month against the
installation's quota; past it, a short notice instead of a review, never a failed job."""

from services.reviewer.github.publish import SUMMARY_MARKER
from services.reviewer.github.service import handle_delivery
from shared.billing import Billing, record_usage
from tests.services.reviewer.github.conftest import INSTALLATION_ID, REPO
from tests.services.reviewer.github.test_review_run import make_pull, opened


def _summaries(fake, number):
    return [c for c in fake.issue_comments.get((REPO, number), []) if SUMMARY_MARKER in c["body"]]


async def _usage(pool):
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT tenant, meter, quantity FROM billing_usage")
        return await cur.fetchall()


async def test_reviews_count_once_per_pull_request(fake, reviewer, pool):
    reviewer.settings = reviewer.settings.model_copy(update={"billing_enabled": True})
    pull = make_pull(fake)
    assert (await handle_delivery(reviewer, await opened(pool, pull))).startswith("reviewed")
    assert (await handle_delivery(reviewer, await opened(pool, pull))).startswith("reviewed")
    assert await _usage(pool) == [{"tenant": str(INSTALLATION_ID), "meter": "prs", "quantity": 1}]


async def test_past_the_quota_a_notice_replaces_the_review(fake, reviewer, pool):
    reviewer.settings = reviewer.settings.model_copy(update={"billing_enabled": True})
    billing = Billing(reviewer.settings, pool)
    await record_usage(billing, "reviewer", str(INSTALLATION_ID), "prs", 20, "earlier-prs")
    pull = make_pull(fake, number=21)
    outcome = await handle_delivery(reviewer, await opened(pool, pull))
    assert outcome == "skipped: quota_exceeded"
    assert fake.pull_reviews(REPO, 21) == [] and not fake.check_runs
    (notice,) = _summaries(fake, 21)
    assert "no reviews left" in notice["body"] and "(20 of 20)" in notice["body"]
    assert "/pricing/reviewer" in notice["body"]
    # Another delivery edits the same notice instead of adding one.
    assert await handle_delivery(reviewer, await opened(pool, pull)) == "skipped: quota_exceeded"
    assert len(_summaries(fake, 21)) == 1
    assert len(await _usage(pool)) == 1  # nothing counted for what was not reviewed
