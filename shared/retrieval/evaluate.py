"""The evaluation harness behind ``ascent rag eval``.

For each labelled set it ingests the documents into a private tenant, runs every retrieval
configuration over every query, and computes recall@k, MRR and nDCG@10 on the ranked list of
distinct source documents. Faithfulness (the share of answer sentences that the cited passage
supports, judged by the gateway) is measured on a sample of queries, since it costs two LLM
calls per sentence.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared.models.llm import LLMGateway
from shared.retrieval.chain import AnswerChain
from shared.retrieval.evalsets.base import EvalQuery, EvalSet
from shared.retrieval.rerank import Reranker, default_reranker
from shared.retrieval.retriever import RetrievalConfig, Retriever
from shared.retrieval.splitters import RecursiveSplitter, SentenceSplitter
from shared.retrieval.store import ChunkStore

# The configurations the README table reports, in order.
CONFIGS: dict[str, RetrievalConfig] = {
    "full-text": RetrievalConfig(mode="text"),
    "vector": RetrievalConfig(mode="vector"),
    "hybrid": RetrievalConfig(mode="hybrid"),
    "hybrid+rerank": RetrievalConfig(mode="hybrid", rerank=True),
    "hybrid+rerank-only": RetrievalConfig(mode="hybrid", rerank=True, rerank_weight=1.0),
    "hybrid+hyde": RetrievalConfig(mode="hybrid", hyde=True),
    "hybrid+rerank+window": RetrievalConfig(
        mode="hybrid", rerank=True, expansion="sentence_window", window=2
    ),
}
# Sentence windows match small (sentence chunks) and return the surrounding text.
WINDOW_COLLECTION = "eval-sentences"
DOC_COLLECTION = "eval-docs"


def recall_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def reciprocal_rank(ranked: list[str], relevant: dict[str, int]) -> float:
    for rank, source in enumerate(ranked, 1):
        if source in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    gains = [(2 ** relevant.get(s, 0) - 1) / math.log2(i + 2) for i, s in enumerate(ranked[:k])]
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return sum(gains) / best if best else 0.0


def distinct_sources(sources: list[str]) -> list[str]:
    return list(dict.fromkeys(sources))


@dataclass
class ConfigResult:
    evalset: str
    config: str
    queries: int
    recall_at_10: float
    mrr: float
    ndcg_at_10: float
    faithfulness: float | None = None
    faithfulness_queries: int = 0
    seconds_per_query: float = 0.0
    per_kind: dict[str, dict[str, float]] = field(default_factory=dict)


_JUDGE_PROMPT = (
    "Source: {passage}\n\nStatement: {sentence}\n\n"
    "Is the statement supported by the source? Answer yes or no."
)
_SENTENCES = re.compile(r"[^.!?\n]+[.!?]?")
_CITE = re.compile(r"\[(\d{1,3})\]")


async def faithfulness(llm: LLMGateway, chain: AnswerChain, query: EvalQuery) -> float | None:
    """Share of answer sentences supported by the passage they cite (uncited = unsupported)."""
    answer = await chain.answer(query.text)
    sentences = [s.strip() for s in _SENTENCES.findall(answer.text) if len(s.strip()) > 3]
    if not sentences:
        return None
    supported = 0
    for sentence in sentences:
        numbers = [int(n) for n in _CITE.findall(sentence) if 1 <= int(n) <= len(answer.passages)]
        claim = _CITE.sub("", sentence).strip()
        for n in numbers:
            top = await llm.first_token_logprobs([{"role": "user", "content": _JUDGE_PROMPT.format(
                passage=answer.passages[n - 1].text[:1500], sentence=claim)}])  # fmt: skip
            yes = sum(math.exp(v) for t, v in top.items() if t.strip().lower() == "yes")
            no = sum(math.exp(v) for t, v in top.items() if t.strip().lower() == "no")
            if yes > no:
                supported += 1
                break
    return supported / len(sentences)


@dataclass
class Evaluator:
    store: ChunkStore
    llm: LLMGateway | None = None
    reranker: Reranker | None = None
    faithfulness_sample: int = 0
    progress: Callable[[str, int], None] | None = None  # (stage, items done)

    async def prepare(self, evalset: EvalSet, configs: list[str]) -> str:
        tenant = f"eval-{evalset.name}"
        await self.store.ingest(tenant, evalset.documents, RecursiveSplitter(),
                                collection=DOC_COLLECTION, full_sync=True)  # fmt: skip
        if any(CONFIGS[c].expansion == "sentence_window" for c in configs):
            await self.store.ingest(tenant, evalset.documents, SentenceSplitter(max_chars=300),
                                    collection=WINDOW_COLLECTION, full_sync=True)  # fmt: skip
        return tenant

    async def run(self, evalset: EvalSet, configs: list[str], limit: int | None = None,
                  k: int = 10) -> list[ConfigResult]:  # fmt: skip
        unknown = [c for c in configs if c not in CONFIGS]
        if unknown:
            raise ValueError(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")
        tenant = await self.prepare(evalset, configs)
        queries = evalset.queries[:limit] if limit else evalset.queries
        results = []
        for name in configs:
            config = CONFIGS[name]
            if config.rerank and self.reranker is None:
                self.reranker = default_reranker(self.store.embedder.settings)
            collection = (
                WINDOW_COLLECTION if config.expansion == "sentence_window" else DOC_COLLECTION
            )
            retriever = Retriever(self.store, tenant, collection, replace_k(config, k),
                                  llm=self.llm, reranker=self.reranker)  # fmt: skip
            results.append(await self._run_config(evalset, name, retriever, queries, k))
        return results

    async def _run_config(self, evalset: EvalSet, name: str, retriever: Retriever,
                          queries: list[EvalQuery], k: int) -> ConfigResult:  # fmt: skip
        recalls, rrs, ndcgs = [], [], []
        by_kind: dict[str, list[float]] = {}
        start = time.perf_counter()
        for query in queries:
            hits = await retriever.retrieve(query.text)
            ranked = distinct_sources([h.source for h in hits])
            recalls.append(recall_at_k(ranked, query.relevance, k))
            rrs.append(reciprocal_rank(ranked, query.relevance))
            ndcgs.append(ndcg_at_k(ranked, query.relevance, 10))
            by_kind.setdefault(query.kind or "all", []).append(ndcgs[-1])
            if self.progress:
                self.progress(f"{evalset.name} {name}", 1)
        elapsed = (time.perf_counter() - start) / max(1, len(queries))
        result = ConfigResult(
            evalset=evalset.name, config=name, queries=len(queries),
            recall_at_10=_mean(recalls), mrr=_mean(rrs), ndcg_at_10=_mean(ndcgs),
            seconds_per_query=round(elapsed, 4),
            per_kind={kind: {"ndcg_at_10": _mean(v), "queries": len(v)}
                      for kind, v in sorted(by_kind.items()) if len(by_kind) <= 12},
        )  # fmt: skip
        if self.faithfulness_sample and self.llm is not None:
            chain = AnswerChain(retriever, self.llm, context_tokens=900, max_tokens=120)
            scores = [await faithfulness(self.llm, chain, q)
                      for q in queries[: self.faithfulness_sample]]  # fmt: skip
            scored = [s for s in scores if s is not None]
            result.faithfulness = _mean(scored) if scored else None
            result.faithfulness_queries = len(scored)
        return result


def replace_k(config: RetrievalConfig, k: int) -> RetrievalConfig:
    return replace(config, k=k, rerank_depth=max(config.rerank_depth, k))


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def to_markdown(results: list[ConfigResult]) -> str:
    rows = [
        "| Set | Configuration | Queries | Recall@10 | MRR | nDCG@10 | Faithfulness | s/query |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        faith = (
            f"{r.faithfulness:.2f} (n={r.faithfulness_queries})"
            if r.faithfulness is not None
            else "–"
        )
        rows.append(
            f"| {r.evalset} | {r.config} | {r.queries} | {r.recall_at_10:.3f} | {r.mrr:.3f} | "
            f"{r.ndcg_at_10:.3f} | {faith} | {r.seconds_per_query:.3f} |"
        )
    return "\n".join(rows)


def to_json(results: list[ConfigResult], meta: dict[str, Any]) -> dict[str, Any]:
    return {"meta": meta, "results": [asdict(r) for r in results]}
