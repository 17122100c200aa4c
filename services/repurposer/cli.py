"""``ascent repurpose FILE``: the whole pipeline on this machine, into an output folder.

No database is needed: stage state lives in the output folder (``.stages.json``), so running
the same command again after an interruption resumes where it stopped. ``ascent repurposer``
holds the service's operator commands (workspaces and API keys).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.repurposer.model import BrandStyle
from services.repurposer.state import STAGE_NAMES
from shared.config import get_settings

app = typer.Typer(help="The content repurposer's operator commands.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


class FolderHooks:
    """Stage state and texts kept as JSON in the output folder."""

    def __init__(self, out: Path) -> None:
        self.stages_file = out / ".stages.json"
        self.assets_file = out / ".assets.json"

    def _read(self, path: Path) -> dict:
        return json.loads(path.read_text()) if path.exists() else {}

    def _write(self, path: Path, data: dict) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)

    async def finished(self) -> set[str]:
        return {k for k, v in self._read(self.stages_file).items() if v == "done"}

    async def mark(self, stage: str, status: str) -> None:
        stages = self._read(self.stages_file)
        stages[stage] = status
        self._write(self.stages_file, stages)

    async def load_assets(self):
        from services.repurposer.model import Asset

        return {k: Asset.model_validate(v) for k, v in self._read(self.assets_file).items()}

    async def save_asset(self, asset):
        assets = self._read(self.assets_file)
        assets[asset.kind] = asset.model_dump()
        self._write(self.assets_file, assets)
        return asset


def repurpose(
    file: Annotated[Path, typer.Argument(help="A recording: any audio or video FFmpeg reads.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")] = None,
    clips: Annotated[int | None, typer.Option(min=1, max=10, help="Clips to render.")] = None,
    aspect: Annotated[
        list[str] | None, typer.Option(help='Clip format, "16:9" or "9:16" (repeatable).')
    ] = None,
    language: Annotated[str | None, typer.Option(help="Spoken language; default: detect.")] = None,
    highlight_colour: Annotated[str | None, typer.Option(help="Caption highlight #RRGGBB.")] = None,
) -> None:
    """Repurpose a recording: transcript, chapters, highlights, captioned clips, posts, exports."""
    from services.repurposer.media.errors import MediaError
    from services.repurposer.media.probe import validate

    settings = get_settings()
    if not file.is_file():
        raise _fail(f"{file} is not a file")
    out = out or file.with_name(f"{file.stem}-repurposed")
    try:
        info = validate(
            file,
            min_duration=settings.repurposer_min_duration,
            max_duration=settings.repurposer_max_duration,
        )
    except MediaError as exc:
        raise _fail(f"{file.name}: {exc}") from None
    if aspect and set(aspect) - {"16:9", "9:16"}:
        raise _fail('--aspect takes "16:9" or "9:16"')
    style = BrandStyle(**({"highlight_colour": highlight_colour} if highlight_colour else {}))
    out.mkdir(parents=True, exist_ok=True)
    source = out / f".source{file.suffix.lower()[:8]}"
    source.unlink(missing_ok=True)
    source.symlink_to(file.resolve())
    console.print(
        f"[bold]{file.name}[/]: {info.duration / 60:.1f} min, "
        f"{'video' if info.has_video else 'audio only'} → {out}"
    )
    started = time.perf_counter()
    timings = asyncio.run(_run(settings, out, source.name, info, clips, aspect, language, style))
    _summary(out, timings, time.perf_counter() - started, info.duration)


async def _run(settings, out, source_key, info, clips, aspects, language, style) -> dict:
    from services.repurposer.pipeline import Hooks, JobOptions, Pipeline
    from services.repurposer.storage import LocalStorage
    from shared.models.embeddings import Embedder
    from shared.models.llm import LLMGateway

    folder = FolderHooks(out)
    columns = (
        TextColumn("{task.description:<11}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    llm = LLMGateway(settings)
    with Progress(*columns, console=console) as progress:
        done = await folder.finished()
        bars = {
            name: progress.add_task(name, total=1.0, completed=1.0 if name in done else 0)
            for name in STAGE_NAMES
        }

        async def started(stage: str) -> None:
            progress.reset(bars[stage], total=1.0)
            await folder.mark(stage, "running")

        async def finished(stage: str) -> None:
            progress.update(bars[stage], completed=1.0)
            await folder.mark(stage, "done")

        hooks = Hooks(
            stage_started=started,
            stage_progress=lambda stage, f: progress.update(bars[stage], completed=f),
            stage_done=finished,
            finished_stages=folder.finished,
            load_assets=folder.load_assets,
            save_asset=folder.save_asset,
        )
        pipeline = Pipeline(
            job_id="local",
            source_key=source_key,
            media=info,
            options=JobOptions(clips=clips, aspects=aspects, language=language, style=style),
            settings=settings,
            storage=LocalStorage(out),
            llm=llm,
            embedder=Embedder(settings),
            hooks=hooks,
            prefix="",
        )
        try:
            await pipeline.run()
        finally:
            await llm.aclose()
    return pipeline.timings


def _summary(out: Path, timings: dict[str, float], seconds: float, duration: float) -> None:
    table = Table(title=f"done in {seconds:.0f} s (real-time factor {seconds / duration:.2f})")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, took in timings.items():
        table.add_row(stage, f"{took:.1f}")
    console.print(table)
    highlights = json.loads((out / "highlights.json").read_text())
    for h in highlights:
        console.print(
            f"  [bold]{h['score']:>3}[/] {h['start']:7.1f}-{h['end']:.1f} s  "
            f"{h.get('title') or h['text'][:60]}"
        )
    console.print(
        f"clips in {out / 'clips'}, texts in {out / 'exports' / 'posts'}, "
        f"everything zipped in {out / 'exports' / 'repurposed.zip'}"
    )


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@app.command("workspace")
def create_workspace_cmd(
    workspace_id: Annotated[str, typer.Argument(help="Short id: lower-case letters, digits, -_")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a workspace and print its first API key (shown once)."""
    key = asyncio.run(_with_pool(lambda pool: _create(pool, workspace_id, name)))
    if key is None:
        raise _fail(f"workspace {workspace_id!r} exists; use `ascent repurposer key`")
    console.print(key)


@app.command("key")
def key_cmd(
    workspace_id: Annotated[str, typer.Argument(help="Workspace id.")] = "local",
    name: Annotated[str, typer.Option(help="Key name; a new key retires the old one.")] = "cli",
) -> None:
    """Issue an API key for a workspace (shown once)."""
    from services.repurposer.workspaces import issue_key

    try:
        key = asyncio.run(_with_pool(lambda pool: issue_key(pool, workspace_id, name=name)))
    except LookupError as exc:
        raise _fail(str(exc)) from None
    console.print(key)


async def _create(pool, workspace_id: str, name: str):
    from services.repurposer.workspaces import create_workspace

    try:
        return await create_workspace(pool, workspace_id, name)
    except ValueError as exc:
        raise _fail(str(exc)) from None


async def _with_pool(work):
    from shared.db import apply_migrations, create_pool, ensure_database

    settings = get_settings()
    url = await asyncio.to_thread(ensure_database, settings)
    await asyncio.to_thread(apply_migrations, url)
    async with create_pool(url, settings, name="repurposer-cli") as pool:
        return await work(pool)


__all__ = ["app", "repurpose"]
