"""``ascent review``: review a patch file or a git range locally, as the GitHub bot would.

    ascent review changes.diff                 # a `git diff` / `git format-patch` file
    ascent review --git main..HEAD             # a range of the repository in the current folder
    ascent review --git main..HEAD --format sarif > review.sarif
    ascent review changes.diff --no-llm --fail-on high

Exit status: 0, or 1 when a finding reaches ``--fail-on``; 2 when the input cannot be read.
The report goes to stdout; progress and errors go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.reviewer.config import CONFIG_PATH, ReviewConfig
from services.reviewer.model import FileChange, ReviewReport, Severity

app = typer.Typer(
    help="Review a diff like a sharp junior developer (linters + LLM).",
    subcommand_metavar="",
    # A command group stops at its first argument by default; options may follow PATCH_FILE.
    context_settings={"allow_interspersed_args": True},
)
err = Console(stderr=True)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=code)


@app.callback(invoke_without_command=True)
def review_command(
    patch_file: Annotated[
        Path | None,
        typer.Argument(help="Unified diff to review ('-' reads stdin)", show_default=False),
    ] = None,
    git: Annotated[
        str | None,
        typer.Option("--git", help="Review a git range of the current repository: BASE..HEAD"),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text, json or sarif (2.1.0)")
    ] = OutputFormat.text,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Linters only")] = False,
    config_path: Annotated[
        Path | None,
        typer.Option("--config", help=f"Review config (default: {CONFIG_PATH}, at BASE in --git)"),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(help="Exit 1 when a finding is at least this severe (low, medium, high...)"),
    ] = None,
    max_llm_tokens: Annotated[int, typer.Option(help="Token budget of the LLM review")] = 60_000,
    root: Annotated[
        Path, typer.Option(help="Repository folder (working tree / git repository)")
    ] = Path("."),
) -> None:
    """Review PATCH_FILE, or the range given with --git, and print the findings."""
    if (patch_file is None) == (git is None):
        raise _fail("give either a PATCH_FILE or --git BASE..HEAD")
    threshold: Severity | None = None
    if fail_on:
        try:
            threshold = Severity.parse(fail_on)
        except KeyError:
            raise _fail(f"--fail-on {fail_on!r}: not a severity") from None
    files, config, notes = _load(patch_file, git, config_path, root.resolve())
    if not files:
        err.print("[dim]nothing to review: the diff is empty[/]")
    if no_llm:
        config = replace(config, analyzers=config.analyzers - {"llm"})
    report = asyncio.run(_review(files, config, max_llm_tokens, use_llm=not no_llm))
    report.notes[:0] = notes
    if output_format is OutputFormat.sarif:
        from services.reviewer.analysis.output import to_sarif

        text = json.dumps(to_sarif(report), indent=2)
    elif output_format is OutputFormat.json:
        from services.reviewer.analysis.output import to_json

        text = to_json(report)
    else:
        from services.reviewer.analysis.output import to_text

        text = to_text(report)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if threshold is not None and any(f.severity >= threshold for f in report.findings):
        raise typer.Exit(code=1)


def _load(
    patch_file: Path | None, git: str | None, config_path: Path | None, root: Path
) -> tuple[list[FileChange], ReviewConfig, list[str]]:
    from services.reviewer.analysis.sources import (
        SourceError,
        config_text_from_git,
        files_from_git,
        files_from_patch,
    )

    notes: list[str] = []
    config_text: str | None = None
    try:
        if git is not None:
            files, base, _ = files_from_git(root, git)
            if config_path is None:
                config_text = config_text_from_git(root, base)
        else:
            assert patch_file is not None
            try:
                text = sys.stdin.read() if str(patch_file) == "-" else patch_file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise SourceError(f"cannot read {patch_file}: {exc}") from exc
            files, notes = files_from_patch(text, root)
    except SourceError as exc:
        raise _fail(str(exc)) from None
    if config_path is not None:
        try:
            config_text = config_path.read_text()
        except OSError as exc:
            raise _fail(f"cannot read the config {config_path}: {exc}") from None
    elif config_text is None and (root / CONFIG_PATH).is_file():
        config_text = (root / CONFIG_PATH).read_text()
    config = ReviewConfig.from_toml(config_text)
    for problem in config.errors:
        err.print(f"[yellow]config:[/] {problem}")
    return files, config, notes


async def _review(
    files: list[FileChange], config: ReviewConfig, max_llm_tokens: int, *, use_llm: bool
) -> ReviewReport:
    from services.reviewer.analysis.engine import review

    llm = None
    if use_llm and config.wants("llm"):
        from shared.config import get_settings
        from shared.models.llm import LLMGateway

        llm = LLMGateway(get_settings())
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True,
    )  # fmt: skip
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        name = stage.split(":")[0]
        if name not in tasks:
            tasks[name] = progress.add_task(stage, total=max(total, 1))
        progress.update(tasks[name], description=stage, completed=done, total=max(total, 1))

    try:
        with progress:
            return await review(files, config, llm, max_llm_tokens=max_llm_tokens,
                                progress=update)  # fmt: skip
    finally:
        if llm is not None:
            await llm.aclose()
            from shared.models.llm import stop_embedded_servers

            stop_embedded_servers()
