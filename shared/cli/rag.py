"""``ascent rag``: ingest files, search them, train a reranker and evaluate retrieval."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from shared.config import Settings, get_settings

app = typer.Typer(help="Retrieval: ingest, search, train a reranker, evaluate.",
                  no_args_is_help=True)  # fmt: skip
console = Console()
err = Console(stderr=True)

SPLITTERS = ("recursive", "token", "markdown", "sentence")


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, transient=False,
    )  # fmt: skip


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Any]:
    from shared.db import apply_migrations, create_pool, ensure_database
    from shared.models.embeddings import Embedder
    from shared.retrieval.store import ChunkStore

    url = await asyncio.to_thread(ensure_database, settings)
    if settings.migrate_on_start:
        await asyncio.to_thread(apply_migrations, url)
    async with create_pool(url, settings) as pool:
        yield ChunkStore(pool, Embedder(settings))


def _splitter(name: str) -> Callable:
    from shared.retrieval import splitters

    return {
        "recursive": splitters.RecursiveSplitter,
        "token": splitters.TokenSplitter,
        "markdown": splitters.MarkdownHeaderSplitter,
        "sentence": splitters.SentenceSplitter,
    }[name]()


def _parse_filters(items: list[str] | None) -> dict[str, Any] | None:
    if not items:
        return None
    filters: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: use key=value or key=json")
        try:
            filters[key] = json.loads(value)
        except json.JSONDecodeError:
            filters[key] = value
    return filters


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or git working trees")],
    tenant: Annotated[str, typer.Option(help="Tenant that owns the documents")],
    collection: Annotated[str, typer.Option(help="Collection within the tenant")] = "default",
    splitter: Annotated[str, typer.Option(help=f"One of {', '.join(SPLITTERS)}")] = "recursive",
    full_sync: Annotated[bool, typer.Option(help="Remove documents not in this batch")] = False,
) -> None:
    """Load, split, embed and store documents. Unchanged ones are skipped."""
    from shared.retrieval.loaders import load_paths

    if splitter not in SPLITTERS:
        raise typer.BadParameter(f"splitter must be one of {SPLITTERS}")
    report = load_paths(paths, tenant=tenant)
    for error in report.errors:
        err.print(f"[yellow]skipped[/] {error.path}: {error.reason}")
    if not report.documents:
        err.print("[red]nothing to ingest[/]")
        raise typer.Exit(1)

    async def run():
        async with _store(get_settings()) as store:
            with _progress() as progress:
                task = progress.add_task("ingesting", total=len(report.documents))
                return await store.ingest(
                    tenant, report.documents, _splitter(splitter), collection=collection,
                    full_sync=full_sync, progress=lambda n: progress.advance(task, n),
                )  # fmt: skip

    stats = asyncio.run(run())
    table = Table(title=f"ingested into {tenant}/{collection}")
    for key, value in vars(stats).items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument()],
    tenant: Annotated[str, typer.Option()],
    collection: Annotated[str, typer.Option()] = "default",
    mode: Annotated[str, typer.Option(help="hybrid, vector or text")] = "hybrid",
    k: Annotated[int, typer.Option()] = 5,
    filter: Annotated[list[str] | None, typer.Option(help="key=value (repeatable)")] = None,
) -> None:
    """Search a tenant's documents."""
    from shared.retrieval.filters import FilterError

    async def run():
        async with _store(get_settings()) as store:
            return await store.search(tenant, query, collection=collection, k=k, mode=mode,
                                      filters=_parse_filters(filter))  # fmt: skip

    try:
        hits = asyncio.run(run())
    except (FilterError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    table = Table(title=f"{len(hits)} hits")
    for column in ("#", "score", "source", "span", "text"):
        table.add_column(column)
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), f"{h.score:.4f}", h.source, f"{h.start}-{h.end}", h.text[:80])
    console.print(table)


@app.command()
def reindex(
    m: Annotated[int, typer.Option(help="HNSW links per node")] = 16,
    ef_construction: Annotated[int, typer.Option(help="HNSW build candidate list")] = 64,
) -> None:
    """Rebuild the HNSW vector index with new build parameters (all tenants)."""

    async def run():
        async with _store(get_settings()) as store:
            await store.rebuild_vector_index(m=m, ef_construction=ef_construction)

    with console.status(f"rebuilding HNSW index (m={m}, ef_construction={ef_construction})"):
        asyncio.run(run())
    console.print("index rebuilt")


@app.command("train-reranker")
def train_reranker(
    quick: Annotated[bool, typer.Option(help="A few steps on a reduced set (smoke test)")] = False,
    out: Annotated[Path | None, typer.Option(help="Report folder")] = None,
) -> None:
    """Train the cross-encoder reranker and publish it as the default: the same tracked run as
    `ascent learn reranker` (hard negatives mined with hybrid search from Jeopardy clues that
    the evaluation never uses)."""
    from importlib.metadata import entry_points

    # The recipe lives in the curriculum, which depends on shared and not the reverse: reach it
    # through its registered command group rather than an import.
    learn = next((ep for ep in entry_points(group="ascent.cli") if ep.name == "learn"), None)
    if learn is None:
        err.print("[red]error:[/] the curriculum trains the reranker and is not installed: "
                  "pip install -e '.[curriculum]'")  # fmt: skip
        raise typer.Exit(1)
    args = ["reranker", *(["--quick"] if quick else []), *(["--out", str(out)] if out else [])]
    learn.load()(args, standalone_mode=False)


@app.command("eval")
def evaluate(
    evalset: Annotated[list[str] | None, typer.Option("--set", help="jeopardy, shop")] = None,
    config: Annotated[list[str] | None, typer.Option(help="Configurations (default: all)")] = None,
    reranker: Annotated[
        str | None, typer.Option(help="Published name or folder (default: ASCENT_RERANKER_MODEL)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Queries per set")] = None,
    faithfulness: Annotated[int, typer.Option(help="Queries per config to judge")] = 0,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("rag-eval.json"),
) -> None:
    """Measure recall@10, MRR, nDCG@10 (and faithfulness) for each retrieval configuration."""
    from shared.models.llm import LLMGateway, stop_embedded_servers
    from shared.models.registry import ModelNotInstalled
    from shared.retrieval.evalsets import available_evalsets, load_evalset
    from shared.retrieval.evaluate import CONFIGS, Evaluator, to_json, to_markdown
    from shared.retrieval.rerank import CrossEncoderReranker, default_reranker

    settings = get_settings()
    names = evalset or available_evalsets()
    configs = config or list(CONFIGS)
    reranker = reranker or settings.reranker_model
    ranker = None
    if any(CONFIGS[c].rerank for c in configs if c in CONFIGS):
        try:
            if reranker == settings.reranker_model:
                ranker = default_reranker(settings)
            else:
                ranker = CrossEncoderReranker(reranker, models_dir=settings.models_dir)
        except ModelNotInstalled as exc:
            err.print(f"[red]error:[/] {exc}")
            err.print("Train and publish the default reranker with: ascent learn reranker")
            raise typer.Exit(1) from None

    async def run():
        llm = LLMGateway(settings)
        results = []
        try:
            async with _store(settings) as store:
                with _progress() as progress:
                    tasks: dict[str, Any] = {}

                    def advance(stage: str, n: int) -> None:
                        if stage not in tasks:
                            tasks[stage] = progress.add_task(stage, total=limit or None)
                        progress.advance(tasks[stage], n)

                    evaluator = Evaluator(store, llm, ranker, faithfulness, advance)
                    for name in names:
                        loaded = load_evalset(name)
                        total = min(limit or len(loaded.queries), len(loaded.queries))
                        for c in configs:
                            tasks[f"{name} {c}"] = progress.add_task(f"{name} {c}", total=total)
                        results += await evaluator.run(loaded, configs, limit)
        finally:
            await llm.aclose()
            stop_embedded_servers()
        return results

    results = asyncio.run(run())
    meta = {"llm_model": settings.llm_model, "embedding_model": settings.embedding_model,
            "reranker": reranker if ranker else None, "limit": limit}  # fmt: skip
    out.write_text(json.dumps(to_json(results, meta), indent=2))
    console.print(to_markdown(results))
    console.print(f"results written to {out}")
