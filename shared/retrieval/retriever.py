"""The retrieval pipeline: (transforms) → hybrid search → (MMR) → (rerank) → (context windows).

Configuration is plain data, so the evaluation harness can sweep it and services can store
it per tenant.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from shared.models.llm import LLMGateway
from shared.retrieval import transforms
from shared.retrieval.context import Expansion, Passage, expand, merge_adjacent
from shared.retrieval.mmr import mmr
from shared.retrieval.rerank import Reranker, default_reranker
from shared.retrieval.store import ChunkStore, Mode, clip_query
from shared.retrieval.types import Hit


@dataclass(frozen=True)
class RetrievalConfig:
    mode: Mode = "hybrid"
    k: int = 10
    candidates: int = 50
    ef_search: int = 100
    filters: dict[str, Any] | None = None
    mmr_lambda: float | None = None  # None: no diversification
    rerank: bool = False
    rerank_depth: int = 30  # hits handed to the reranker
    # 1.0: the reranker's order alone. Below 1, its ranks are fused with the retrieval ranks
    # (weighted RRF), so a reranker from another domain cannot wreck a good first stage.
    rerank_weight: float = 0.5
    hyde: bool = False
    multi_query: int = 0  # extra rewrites to fuse; 0 = off
    step_back: bool = False
    expansion: Expansion = "none"
    window: int = 2  # sentences each side, for sentence_window
    merge_adjacent: bool = True


def rrf_fuse(result_lists: list[list[Hit]], k: int, rrf_k: int = 60) -> list[Hit]:
    scores: dict[int, float] = defaultdict(float)
    first_seen: dict[int, Hit] = {}
    for hits in result_lists:
        for rank, hit in enumerate(hits, 1):
            scores[hit.id] += 1.0 / (rrf_k + rank)
            first_seen.setdefault(hit.id, hit)
    ranked = sorted(scores, key=lambda i: -scores[i])[:k]
    return [replace(first_seen[i], score=scores[i]) for i in ranked]


def fuse_rerank(retrieved: list[Hit], reranked: list[Hit], weight: float,
                rrf_k: int = 60) -> list[Hit]:  # fmt: skip
    """Order by ``weight / (k + reranker rank) + (1 - weight) / (k + retrieval rank)``."""
    if weight >= 1.0:
        return reranked
    first = {h.id: rank for rank, h in enumerate(retrieved, 1)}
    scored = [
        (weight / (rrf_k + rank) + (1 - weight) / (rrf_k + first[h.id]), h)
        for rank, h in enumerate(reranked, 1)
    ]
    scored.sort(key=lambda pair: -pair[0])
    return [replace(h, score=score) for score, h in scored]


@dataclass
class Retriever:
    store: ChunkStore
    tenant: str
    collection: str = "default"
    config: RetrievalConfig = field(default_factory=RetrievalConfig)
    llm: LLMGateway | None = None
    reranker: Reranker | None = None

    def _need_llm(self, what: str) -> LLMGateway:
        if self.llm is None:
            raise ValueError(f"{what} needs an LLM gateway")
        return self.llm

    async def retrieve(self, query: str, **overrides: Any) -> list[Hit]:
        cfg = replace(self.config, **overrides) if overrides else self.config
        query = clip_query(query)
        if not query:
            raise ValueError("empty query")
        depth = max(cfg.k, cfg.rerank_depth if cfg.rerank else cfg.k)
        if cfg.mmr_lambda is not None:
            depth = max(depth, cfg.candidates)

        queries = [query]
        if cfg.multi_query:
            queries += await transforms.multi_query(self._need_llm("multi-query"), query,
                                                    cfg.multi_query)  # fmt: skip
        if cfg.step_back:
            general = await transforms.step_back(self._need_llm("step-back"), query)
            if general:
                queries.append(general)

        embed_texts = list(queries)
        if cfg.hyde and cfg.mode != "text":
            # The hypothetical answer drives the vector side; keywords still come from the query.
            embed_texts[0] = await transforms.hyde(self._need_llm("HyDE"), query)
        vectors = (
            await self.store.embedder.aembed(embed_texts)
            if cfg.mode != "text"
            else [None] * len(queries)
        )
        results = [
            await self.store.search(
                self.tenant,
                q,
                collection=self.collection,
                k=depth,
                mode=cfg.mode,
                filters=cfg.filters,
                candidates=cfg.candidates,
                ef_search=cfg.ef_search,
                query_vector=v,
                with_vectors=cfg.mmr_lambda is not None,
            )
            for q, v in zip(queries, vectors, strict=True)
        ]
        hits = results[0] if len(results) == 1 else rrf_fuse(results, depth)
        if cfg.mmr_lambda is not None and hits:
            query_vector = vectors[0] if vectors[0] is not None else (
                await self.store.embedder.aembed([query]))[0]  # fmt: skip
            hits = mmr(np.asarray(query_vector), hits, depth, cfg.mmr_lambda)
        if cfg.rerank:
            if self.reranker is None:
                # The published default (settings.reranker_model), or a clear error saying
                # how to train it.
                self.reranker = default_reranker(self.store.embedder.settings)
            pool = hits[: cfg.rerank_depth]
            reranked = await self.reranker.rerank(query, pool, len(pool))
            hits = fuse_rerank(pool, reranked, cfg.rerank_weight)
        return hits[: cfg.k]

    async def passages(self, query: str, **overrides: Any) -> list[Passage]:
        """Hits widened per the configured expansion, neighbours merged, ready for a prompt."""
        cfg = replace(self.config, **overrides) if overrides else self.config
        hits = await self.retrieve(query, **overrides)
        documents = await self.store.documents(
            self.tenant, [h.source for h in hits], collection=self.collection
        )
        passages = expand(hits, documents, cfg.expansion, cfg.window)
        return merge_adjacent(passages, documents) if cfg.merge_adjacent else passages
