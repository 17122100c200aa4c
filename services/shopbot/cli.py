"""``ascent shopbot``: create stores, import catalogues, issue keys, seed the demo store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from shared.cli.rag import _store
from shared.config import get_settings

app = typer.Typer(help="Shopping assistant: stores, catalogues, keys.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@app.command("create-store")
def create_store_command(
    store_id: Annotated[str, typer.Argument(help="Short id: lowercase letters, digits, dashes")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    origin: Annotated[list[str], typer.Option(help="Allowed origin of the widget (repeat)")] = [],  # noqa: B006
    currency: Annotated[str, typer.Option()] = "USD",
) -> None:
    """Create a store and print its widget key and (once) its secret admin key."""
    from services.shopbot.stores import StoreError, create_store

    async def run() -> None:
        async with _store(get_settings()) as chunks:
            try:
                store, admin_key = await create_store(
                    chunks.pool, store_id, name or store_id, origins=origin, currency=currency
                )
            except StoreError as exc:
                err.print(f"[red]error:[/] {exc}")
                raise typer.Exit(1) from None
        console.print(f"store [bold]{store.id}[/] created")
        console.print(f"widget key (public): {store.widget_key}")
        console.print(f"admin key (secret, shown once): {admin_key}")
        console.print(f"allowed origins: {', '.join(store.allowed_origins) or 'none yet'}")

    asyncio.run(run())


@app.command("admin-key")
def admin_key_command(store_id: str) -> None:
    """Issue a new secret admin key for a store (old keys stay valid until revoked)."""
    from services.shopbot.stores import ADMIN_SCOPE, store_by_id
    from shared.web.auth import create_api_key

    async def run() -> None:
        async with _store(get_settings()) as chunks:
            if await store_by_id(chunks.pool, store_id) is None:
                err.print(f"[red]error:[/] no store {store_id!r}")
                raise typer.Exit(1)
            key = await create_api_key(chunks.pool, store_id, name="shopbot admin (cli)",
                                       scopes=(ADMIN_SCOPE,))  # fmt: skip
        console.print(key)

    asyncio.run(run())


@app.command("ingest")
def ingest_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    store_id: Annotated[str, typer.Option("--store", help="Store id")],
    full_sync: Annotated[bool, typer.Option(help="Remove products missing from FILE")] = False,
) -> None:
    """Import a CSV, JSON lines or Shopify products JSON catalogue into a store."""
    from services.shopbot.catalog import CatalogError, parse_catalog_file
    from services.shopbot.importer import import_products
    from services.shopbot.stores import store_by_id

    settings = get_settings()
    try:
        report = parse_catalog_file(file, currency="USD")
    except CatalogError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    for problem in report.errors[:50]:
        err.print(f"[yellow]skipped[/] {file.name} {problem}")
    if len(report.errors) > 50:
        err.print(f"[yellow]… and {len(report.errors) - 50} more skipped rows[/]")
    if not report.records:
        err.print("[red]error:[/] no valid product rows")
        raise typer.Exit(1)

    async def run() -> None:
        async with _store(settings) as chunks:
            store = await store_by_id(chunks.pool, store_id)
            if store is None:
                err.print(f"[red]error:[/] no store {store_id!r}; create it with "
                          "`ascent shopbot create-store`")  # fmt: skip
                raise typer.Exit(1)
            with Progress("[progress.description]{task.description}", BarColumn(),
                          MofNCompleteColumn(), TimeRemainingColumn(),
                          console=console) as progress:  # fmt: skip
                task = progress.add_task("importing", total=len(report.records))
                stats = await import_products(
                    chunks.pool, chunks, store, report.records, full_sync=full_sync,
                    progress=lambda n: progress.advance(task, n),
                )  # fmt: skip
        console.print(
            f"added {stats.added}, updated {stats.updated}, unchanged {stats.unchanged}, "
            f"removed {stats.removed}, embedded {stats.embedded} chunks; "
            f"{len(report.errors)} row(s) skipped"
        )
        for problem in stats.errors[:20]:
            err.print(f"[yellow]note[/] {problem}")

    asyncio.run(run())


@app.command("demo")
def demo_command() -> None:
    """Create the demo store from the packaged Vendure catalogue (if it does not exist)."""
    from services.shopbot.demo import ensure_demo_store

    settings = get_settings()
    origins = [f"http://{h}:{p}" for h in ("127.0.0.1", "localhost")
               for p in range(settings.base_port, settings.base_port + 10)]  # fmt: skip

    async def run() -> None:
        async with _store(settings) as chunks:
            store, admin_key = await ensure_demo_store(chunks.pool, chunks, origins)
        console.print(f"demo store [bold]{store.id}[/], widget key {store.widget_key}")
        if admin_key:
            console.print(f"admin key (secret, shown once): {admin_key}")

    asyncio.run(run())
