"""Rerankers: a cross-encoder (any sentence-transformers CrossEncoder directory, or a model
published to the registry) and an LLM-as-reranker through the gateway."""

from __future__ import annotations

import asyncio
import math
import threading
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from shared.config import Settings, get_settings
from shared.models.llm import LLMGateway
from shared.models.registry import ArtifactRegistry, ModelNotInstalled
from shared.retrieval.types import Hit


class Reranker(Protocol):
    async def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]: ...


class CrossEncoderReranker:
    """Scores (query, passage) pairs jointly; far sharper than bi-encoder similarity."""

    def __init__(self, model: str | Path, *, models_dir: Path | None = None,
                 batch_size: int = 32, max_length: int = 256) -> None:  # fmt: skip
        path = Path(model)
        if not path.is_dir():
            if models_dir is None:
                raise ValueError(f"{model!r} is not a directory; pass models_dir to look it up")
            path = ArtifactRegistry(models_dir).path(str(model))
        self.path = path
        self.batch_size = batch_size
        self.max_length = max_length
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(
                    str(self.path), device="cpu", max_length=self.max_length,
                    local_files_only=True,
                )  # fmt: skip
        return self._model

    def score(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        scores = self._load().predict(
            [(query, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(s) for s in scores]

    async def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        scores = await asyncio.to_thread(self.score, query, [h.text for h in hits])
        ranked = sorted(zip(hits, scores, strict=True), key=lambda pair: -pair[1])
        return [replace(hit, score=score) for hit, score in ranked[:k]]


class RerankerNotPublished(ModelNotInstalled, ValueError):
    """Reranking was asked for, none was passed, and the default is not published."""


@lru_cache(maxsize=4)
def _cached_reranker(model: str, models_dir: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(model, models_dir=models_dir)


def default_reranker(settings: Settings | None = None) -> CrossEncoderReranker:
    """The reranker retrieval uses when none is passed: ``settings.reranker_model`` (a
    published name, by default the one ``ascent learn reranker`` trains, or a folder). One
    instance per model and process, so the weights load once."""
    settings = settings or get_settings()
    try:
        return _cached_reranker(settings.reranker_model, settings.models_dir)
    except ModelNotInstalled as exc:
        raise RerankerNotPublished(
            f"reranking needs a reranker and the default, {settings.reranker_model!r} "
            f"(ASCENT_RERANKER_MODEL), is not published in {settings.models_dir}. Train and "
            "publish it with `ascent learn reranker`, or set ASCENT_RERANKER_MODEL to a "
            f"CrossEncoder folder. ({exc})"
        ) from None


_LLM_RERANK_PROMPT = (
    "Passage: {passage}\n\nQuestion: {query}\n\n"
    "Does the passage answer the question? Answer yes or no."
)


class LLMReranker:
    """Pointwise LLM reranking: each passage scores P(yes) for "does it answer the question?",
    read from the first token's log-probabilities (llama.cpp, vLLM and OpenAI return them).
    Slower than a cross-encoder, but needs no training."""

    def __init__(self, llm: LLMGateway, *, max_chars: int = 600) -> None:
        self.llm = llm
        self.max_chars = max_chars

    async def _p_yes(self, query: str, text: str) -> float:
        prompt = _LLM_RERANK_PROMPT.format(passage=text[: self.max_chars], query=query)
        top = await self.llm.first_token_logprobs([{"role": "user", "content": prompt}])
        yes = sum(math.exp(lp) for token, lp in top.items() if token.strip().lower() == "yes")
        no = sum(math.exp(lp) for token, lp in top.items() if token.strip().lower() == "no")
        return yes / (yes + no) if yes + no > 0 else 0.0

    async def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        scores = await asyncio.gather(*(self._p_yes(query, h.text) for h in hits))
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
        return [replace(hits[i], score=scores[i]) for i in order[:k]]
