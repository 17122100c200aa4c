"""The ``ascent`` command line."""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from shared.cli.rag import app as rag_app
from shared.config import get_settings

app = typer.Typer(help="ascent: a self-hostable AI SaaS suite.", no_args_is_help=True)
app.add_typer(rag_app, name="rag")
# Services add their own command groups (`ascent shopbot ...`) through this entry-point group.
for _ep in sorted(entry_points(group="ascent.cli"), key=lambda e: e.name):
    app.add_typer(_ep.load(), name=_ep.name)
# ...and single top-level commands (`ascent repurpose FILE`) through this one.
for _ep in sorted(entry_points(group="ascent.commands"), key=lambda e: e.name):
    app.command(name=_ep.name)(_ep.load())
console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@app.command()
def up() -> None:
    """Start the suite: Postgres, the LLM server, a worker and every service; print URLs."""
    from shared.cli.stack import Stack
    from shared.db.embedded import EmbeddedPostgresError

    settings = get_settings()
    stack = Stack(settings)
    try:
        stack.start(lambda msg: console.print(f"[dim]•[/] {msg}"))
    except (EmbeddedPostgresError, RuntimeError, TimeoutError) as exc:
        stack.stop()
        raise _fail(str(exc)) from None
    table = Table(title="ascent is up", show_lines=False)
    table.add_column("part")
    table.add_column("where")
    for name, url in stack.urls.items():
        table.add_row(name, url)
    console.print(table)
    console.print("Press Ctrl-C to stop.")
    try:
        reason = stack.wait()
    finally:
        console.print("[dim]stopping...[/]")
        stack.stop()
    if reason not in ("interrupted", "SIGTERM", "SIGINT"):
        raise _fail(reason)


@app.command()
def serve(
    name: Annotated[str, typer.Argument(help="Registered service name")],
    host: Annotated[str | None, typer.Option(help="Bind address (default ASCENT_HOST)")] = None,
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run one service with uvicorn."""
    import uvicorn

    from shared.cli.stack import registered_services

    services = registered_services()
    if name not in services:
        known = ", ".join(services) or "none registered yet"
        raise _fail(f"unknown service {name!r}; known: {known}")
    uvicorn.run(
        services[name],
        factory=True,
        host=host or get_settings().host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once")] = None,
    queue: Annotated[list[str] | None, typer.Option(help="Queue to serve (repeatable)")] = None,
    blueprint: Annotated[
        list[str] | None, typer.Option(help="Extra task blueprint, [name=]module:attr")
    ] = None,
) -> None:
    """Run a job worker. Start as many as you like, on as many machines as you like."""
    from shared.db import apply_migrations, ensure_database
    from shared.jobs import create_job_app, run_worker
    from shared.logging import configure_logging

    settings = get_settings()
    configure_logging(settings)
    url = ensure_database(settings)
    if settings.migrate_on_start:
        apply_migrations(url)
    job_app = create_job_app(url, blueprint or ())
    asyncio.run(run_worker(job_app, settings, concurrency=concurrency, queues=queue))


@app.command()
def migrate() -> None:
    """Apply pending SQL migrations and exit."""
    from shared.db import DatabaseUnreachable, MigrationError, apply_migrations, ensure_database

    try:
        applied = apply_migrations(ensure_database(get_settings()))
    except (DatabaseUnreachable, MigrationError) as exc:
        raise _fail(str(exc)) from None
    console.print("applied: " + (", ".join(applied) if applied else "nothing pending"))


@app.command()
def doctor() -> None:
    """Check packages, Postgres + pgvector, every packaged model, ffmpeg and chromium."""
    from shared.cli.doctor import run_checks
    from shared.models.llm import stop_embedded_servers

    with console.status("checking..."):
        try:
            checks = run_checks(get_settings())
        finally:
            stop_embedded_servers()
    table = Table(title="ascent doctor")
    for column in ("", "area", "check", "detail", "s"):
        table.add_column(column)
    for c in checks:
        mark = "[green]✔[/]" if c.ok else "[red]✘[/]"
        table.add_row(mark, c.area, c.name, c.detail, f"{c.seconds:.1f}")
    console.print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        raise _fail(f"{len(failed)} of {len(checks)} checks failed")
    console.print(f"[green]all {len(checks)} checks passed[/]")


@app.command()
def models(
    verify: Annotated[bool, typer.Option(help="Assemble and re-hash every model")] = False,
) -> None:
    """List the packaged models and whether they are installed and verified."""
    from shared.models.registry import (
        MODELS,
        ModelCorrupt,
        ModelNotInstalled,
        ModelRegistry,
        missing_packages,
    )

    registry = ModelRegistry(get_settings().models_dir)
    table = Table(title="packaged models")
    for column in ("name", "kind", "size", "license", "status", "packages"):
        table.add_column(column)
    problems = 0
    for name, model in MODELS.items():
        missing = missing_packages(model)
        status = f"[red]missing {', '.join(missing)}[/]" if missing else "installed"
        if not missing and verify:
            size = registry.size_bytes(model)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task(f"hashing {name}", total=size)
                try:
                    if registry.is_ready(model):
                        registry.verify(model, lambda n, t=task: progress.advance(t, n))
                    else:
                        registry.assemble(model, lambda n, t=task: progress.advance(t, n))
                    status = "[green]verified[/]"
                except (ModelCorrupt, ModelNotInstalled) as exc:
                    status = f"[red]{exc}[/]"
        elif not missing and registry.is_ready(model):
            status = "[green]verified[/]"
        problems += "red" in status
        packages = model.packages
        shown = packages[0] if len(packages) == 1 else f"{packages[0]} … ({len(packages)})"
        table.add_row(
            name, model.kind, f"{registry.size_bytes(model) / 1e6:.0f} MB", model.license,
            status, shown,
        )  # fmt: skip
    console.print(table)
    _published_models_table(registry.models_dir)
    if problems:
        raise typer.Exit(code=1)


def _published_models_table(models_dir: Path) -> None:
    """Models trained here (the curriculum publishes them), with where each came from."""
    from shared.models.registry import ArtifactRegistry

    artifacts = ArtifactRegistry(models_dir)
    names = artifacts.names()
    if not names:
        console.print("no published models yet (`ascent learn lora`, `ascent learn reranker`)")
        return
    table = Table(title=f"published models ({artifacts.root})")
    for column in ("name", "kind", "base", "made by", "MLflow run", "git sha", "metrics"):
        table.add_column(column)
    for name in names:
        manifest = artifacts.manifest(name)
        origin = manifest.get("provenance", {})
        table.add_row(
            name, manifest.get("kind", "?"), origin.get("base_model", ""),
            origin.get("command", manifest.get("description", "")),
            origin.get("mlflow_run_id", "")[:12], origin.get("git_sha", "")[:12],
            headline_metrics(origin.get("metrics", {})),
        )  # fmt: skip
    console.print(table)


def headline_metrics(metrics: dict, limit: int = 4) -> str:
    """A short line of a published model's metrics. A before/after provenance (one dict per
    evaluated model, the published one last, as the LoRA lesson writes it) shows the last."""
    label = ""
    nested = [(k, v) for k, v in metrics.items() if isinstance(v, dict)]
    if nested:
        label, metrics = nested[-1]
        label += ": "
    shown = [f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
             for k, v in metrics.items() if isinstance(v, int | float)]  # fmt: skip
    return label + ", ".join(shown[:limit])


if __name__ == "__main__":
    app()
