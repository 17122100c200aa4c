"""Rerankers compared through the retrieval issue's harness (``shared.retrieval.evaluate``).

Each reranker runs the harness's rerank configurations on the same store and sets; the
first-stage configurations run once. A reranker's scores are cached per (query, candidate
list), so "fused" and "reranker order only" cost one scoring pass between them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from shared.retrieval.evalsets.base import EvalSet
from shared.retrieval.evaluate import ConfigResult, Evaluator
from shared.retrieval.rerank import Reranker
from shared.retrieval.store import ChunkStore
from shared.retrieval.types import Hit

FIRST_STAGE = ("vector", "hybrid")
RERANKED = ("hybrid+rerank", "hybrid+rerank-only")


class CachedReranker:
    """Remembers each ranking, so two configurations over the same pool score it once."""

    def __init__(self, inner: Reranker) -> None:
        self.inner = inner
        self._seen: dict[tuple[str, tuple[int, ...]], list[Hit]] = {}

    async def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        key = (query, tuple(h.id for h in hits))
        if key not in self._seen:
            self._seen[key] = await self.inner.rerank(query, hits, len(hits))
        return self._seen[key][:k]


@dataclass(frozen=True)
class Row:
    evalset: str
    reranker: str  # "-" for first-stage rows
    config: str
    queries: int
    recall_at_10: float
    mrr: float
    ndcg_at_10: float
    seconds_per_query: float

    @classmethod
    def of(cls, result: ConfigResult, reranker: str) -> Row:
        return cls(result.evalset, reranker, result.config, result.queries,
                   result.recall_at_10, result.mrr, result.ndcg_at_10,
                   result.seconds_per_query)  # fmt: skip


def reduced(evalset: EvalSet, queries: int | None, documents: int | None) -> EvalSet:
    """The first ``queries`` queries over a corpus cut to ``documents``: every relevant
    document of those queries, then others in the set's order. Labelled as reduced."""
    chosen = evalset.queries[:queries] if queries else evalset.queries
    if not documents or documents >= len(evalset.documents):
        return replace(evalset, queries=chosen)
    relevant = {s for q in chosen for s in q.relevance}
    keep = [d for d in evalset.documents if d.source in relevant]
    keep += [d for d in evalset.documents if d.source not in relevant][: documents - len(keep)]
    return replace(
        evalset,
        name=f"{evalset.name}-reduced",
        description=f"{evalset.name} cut to {len(chosen)} queries over {len(keep)} documents",
        documents=sorted(keep, key=lambda d: d.source),
        queries=chosen,
    )


async def compare(
    store: ChunkStore,
    evalsets: list[EvalSet],
    rerankers: dict[str, Reranker],
    *,
    first_set_only: frozenset[str] = frozenset(),
    progress: Callable[[str, int], None] | None = None,
) -> list[Row]:
    """First-stage rows once per set, then the rerank rows for each named reranker (those in
    ``first_set_only`` on the first set alone, to save CPU time)."""
    rows: list[Row] = []
    for i, evalset in enumerate(evalsets):
        results = await Evaluator(store, progress=progress).run(evalset, list(FIRST_STAGE))
        rows += [Row.of(r, "-") for r in results]
        for label, reranker in rerankers.items():
            if i > 0 and label in first_set_only:
                continue
            evaluator = Evaluator(store, reranker=CachedReranker(reranker), progress=progress)
            rows += [Row.of(r, label) for r in await evaluator.run(evalset, list(RERANKED))]
    return rows


def to_markdown(rows: list[Row]) -> str:
    lines = [
        "| Set | Configuration | Reranker | Queries | Recall@10 | MRR | nDCG@10 | s/query |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.evalset} | {r.config} | {r.reranker} | {r.queries} | {r.recall_at_10:.3f} | "
        f"{r.mrr:.3f} | {r.ndcg_at_10:.3f} | {r.seconds_per_query:.3f} |"
        for r in rows
    ]
    return "\n".join(lines)


def as_dicts(rows: list[Row]) -> list[dict]:
    return [asdict(r) for r in rows]


def metric(rows: list[Row], evalset: str, reranker: str, config: str, name: str) -> float:
    for r in rows:
        if (r.evalset, r.reranker, r.config) == (evalset, reranker, config):
            return getattr(r, name)
    raise KeyError((evalset, reranker, config))
