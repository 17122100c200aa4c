"""``ascent billing``: set up Stripe, reconcile from it, inspect and report usage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from shared.config import get_settings

app = typer.Typer(help="Billing: Stripe set-up, reconciliation and usage.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
T = TypeVar("T")


@asynccontextmanager
async def _billing(*, need_stripe: bool = True) -> AsyncIterator:
    from shared.billing.context import Billing
    from shared.db import apply_migrations, create_pool, ensure_database

    settings = get_settings()
    if need_stripe and (not settings.billing_enabled or settings.stripe_api_key is None):
        err.print("[red]error:[/] set ASCENT_BILLING_ENABLED=true and ASCENT_STRIPE_API_KEY")
        raise typer.Exit(1)
    url = await asyncio.to_thread(ensure_database, settings)
    if settings.migrate_on_start:
        await asyncio.to_thread(apply_migrations, url)
    async with create_pool(url, settings, name="billing-cli") as pool:
        billing = Billing(settings, pool)
        try:
            yield billing
        finally:
            await billing.aclose()


def _run(work: Callable[..., Awaitable[T]], **kwargs) -> T:
    async def main() -> T:
        async with _billing(**kwargs) as billing:
            return await work(billing)

    return asyncio.run(main())


@app.command()
def setup() -> None:
    """Create the Stripe products, meters and prices plans.toml names (only missing ones)."""
    from shared.billing.setup import ensure_stripe_catalog

    done = _run(ensure_stripe_catalog)
    for line in done:
        console.print(f"created {line}")
    console.print("Stripe has every product, meter and price." if not done else "done.")


@app.command()
def sync() -> None:
    """Reconcile local customers, subscriptions and features from Stripe (all of them)."""
    from shared.billing.sync import sync_all

    with console.status("reading Stripe...") as status:
        report = _run(lambda billing: sync_all(billing, on_item=lambda line: status.update(line)))
    console.print(
        f"{report.customers} customers, {report.subscriptions} subscriptions synced; "
        f"{report.skipped} customers without an org skipped"
    )


@app.command()
def usage(
    org: Annotated[str | None, typer.Option(help="Only this org id")] = None,
    product: Annotated[str | None, typer.Option(help="Only this product")] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month, UTC)")] = None,
) -> None:
    """Usage per org (or tenant without one), product and meter, and what Stripe has of it."""
    from shared.billing.entitlements import month_of
    from shared.billing.usage import usage_rows

    try:
        day = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC) if month else None
    except ValueError:
        err.print("[red]error:[/] --month looks like 2026-12")
        raise typer.Exit(1) from None
    start, end = month_of(day or datetime.now(UTC))
    rows = _run(
        lambda billing: usage_rows(billing.pool, start=start, end=end, org_id=org, product=product),
        need_stripe=False,
    )
    table = Table(title=f"usage {start:%Y-%m}")
    for column in ("org / tenant", "product", "meter", "used", "billable", "reported", "failing"):
        table.add_column(column, justify="right" if column in ("used", "billable") else "left")
    for row in rows:
        table.add_row(row["who"], row["product"], row["meter"], str(row["used"]),
                      str(row["billable"]), str(row["reported"]), str(row["failing"]))  # fmt: skip
    console.print(table if rows else "no usage in this period")


@app.command()
def report() -> None:
    """Send billable usage that Stripe does not have yet as meter events, now."""
    from shared.billing.usage import report_usage

    result = _run(report_usage)
    console.print(
        f"{result.sent} sent, {result.duplicates} already at Stripe, {result.failed} failed"
    )
    if result.failed:
        raise typer.Exit(1)


@app.command()
def link(
    org: Annotated[str, typer.Argument(help="Organisation id (org_..., on the account page).")],
    product: Annotated[str, typer.Argument(help="repurposer, reviewer or shopbot.")],
    tenant: Annotated[
        str,
        typer.Argument(
            help="The product's tenant: workspace id, GitHub installation id, store id."
        ),
    ],
) -> None:
    """Put a workspace, GitHub installation or store on an organisation's plan."""
    from shared.accounts import link_tenant
    from shared.accounts.orgs import org_name

    async def work(billing) -> str | None:
        if await org_name(billing.pool, org) is None:
            return f"no organisation {org!r}"
        try:
            await link_tenant(billing.pool, org, product, tenant)
        except ValueError as exc:
            return str(exc)
        return None

    problem = _run(work, need_stripe=False)
    if problem:
        err.print(f"[red]error:[/] {problem}")
        raise typer.Exit(1)
    console.print(f"{product} {tenant} now bills to {org}")
