"""Hard negatives for reranker training, mined with our own hybrid search.

For each training query, the top hits of the real pipeline (pgvector + full text fused with
RRF, over a corpus ingested into the chunk store) that are not the query's relevant document
are its negatives: exactly the near misses a reranker sees at serving time, which word-overlap
sampling does not produce. Hits that are probably unlabelled positives are skipped: a document
whose title names the same thing ("Picasso" / "Pablo Picasso") or whose text is a near copy
of the positive's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.retrieval.evalsets.base import EvalSet
from shared.retrieval.splitters import RecursiveSplitter
from shared.retrieval.store import ChunkStore

NEAR_COPY_JACCARD = 0.5
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Group:
    """One training query: its relevant passage and the hard negatives retrieval returned."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    positive_rank: int | None  # rank of the positive among distinct retrieved documents


@dataclass
class MiningStats:
    queries: int = 0
    groups: int = 0
    negatives: int = 0
    skipped_same_title: int = 0
    skipped_near_copy: int = 0
    positive_found: int = 0  # positive among the retrieved documents
    too_few_negatives: int = 0
    ranks: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return {
            "queries": self.queries,
            "groups": self.groups,
            "negatives": self.negatives,
            "skipped_same_title": self.skipped_same_title,
            "skipped_near_copy": self.skipped_near_copy,
            "positive_recall_at_depth": round(self.positive_found / max(1, self.queries), 4),
            "too_few_negatives": self.too_few_negatives,
        }


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def _jaccard(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    return len(ta & tb) / max(1, len(ta | tb))


def _same_name(a: str, b: str) -> bool:
    wa, wb = _tokens(a), _tokens(b)
    return bool(wa and wb) and (wa <= wb or wb <= wa)


async def mine(
    store: ChunkStore,
    tenant: str,
    training: EvalSet,
    *,
    collection: str = "reranker-train",
    depth: int = 30,
    negatives: int = 7,
    min_negatives: int = 1,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[list[Group], MiningStats]:
    """Ingest ``training.documents`` into ``tenant``/``collection`` and, for each query, keep
    up to ``negatives`` hard negatives from the top ``depth`` hybrid hits. ``progress`` gets
    (stage, items done). Queries left with fewer than ``min_negatives`` are dropped."""
    indexed = (lambda n: progress("indexing", n)) if progress else None
    await store.ingest(tenant, training.documents, RecursiveSplitter(), collection=collection,
                       full_sync=True, progress=indexed)  # fmt: skip
    docs = {d.source: d for d in training.documents}
    stats = MiningStats()
    groups: list[Group] = []
    for query in training.queries:
        stats.queries += 1
        positive = docs[next(iter(query.relevance))]
        hits = await store.search(tenant, query.text, collection=collection, k=depth,
                                  mode="hybrid")  # fmt: skip
        seen: set[str] = set()
        chosen: list[str] = []
        rank = None
        for hit in hits:
            if hit.source in seen:
                continue
            seen.add(hit.source)
            if hit.source in query.relevance:
                rank = len(seen)
                continue
            other = docs[hit.source]
            if _same_name(other.title, positive.title):
                stats.skipped_same_title += 1
            elif _jaccard(other.text, positive.text) >= NEAR_COPY_JACCARD:
                stats.skipped_near_copy += 1
            elif len(chosen) < negatives:
                chosen.append(hit.text)
        if rank is not None:
            stats.positive_found += 1
            stats.ranks.append(rank)
        if progress:
            progress("mining", 1)
        if len(chosen) < min_negatives:
            stats.too_few_negatives += 1
            continue
        # The whole document is the positive: the reranker then sees its title line too, as it
        # does for every single-chunk document at serving time.
        groups.append(Group(query.text, positive.text, tuple(chosen), rank))
        stats.groups += 1
        stats.negatives += len(chosen)
    return groups, stats
