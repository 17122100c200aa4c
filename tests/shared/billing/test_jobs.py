"""The ``billing`` job blueprint: registered, periodic, and a no-op while billing is off."""

from types import SimpleNamespace

from shared.billing import record_usage
from shared.billing.jobs import refresh_stale_task, report_usage_task
from shared.jobs import create_job_app


def test_the_blueprint_is_registered_with_periodic_tasks(database_url):
    app = create_job_app(database_url)
    assert {"billing:report_usage", "billing:refresh_stale"} <= set(app.tasks)
    periodic = {p.task.name for p in app.periodic_registry.periodic_tasks.values()}
    assert {"billing:report_usage", "billing:refresh_stale"} <= periodic


async def test_tasks_report_usage_and_respect_billing_off(
    billing, make_org, subscribe, fake_stripe, sql
):
    org = await make_org()
    await subscribe(org, "reviewer", "business")
    await record_usage(billing, "reviewer", "77", "prs", 1, "pr:job-test", org_id=org.org_id)
    context = SimpleNamespace(additional_context={"billing": billing})
    billing.settings = billing.settings.model_copy(update={"billing_enabled": False})
    await report_usage_task(context, 0)
    assert "pr:job-test" not in fake_stripe.meter_events
    billing.settings = billing.settings.model_copy(update={"billing_enabled": True})
    await report_usage_task(context, 0)
    await refresh_stale_task(context, 0)
    assert "pr:job-test" in fake_stripe.meter_events
    (row,) = await sql("SELECT reported_at FROM billing_usage")
    assert row["reported_at"] is not None
