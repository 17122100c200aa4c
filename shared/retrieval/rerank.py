"""Rerankers: a cross-encoder (any sentence-transformers CrossEncoder directory, or a model
published to the registry) and an LLM-as-reranker through the gateway."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from shared.models.llm import LLMGateway
from shared.models.registry import ArtifactRegistry
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


class _Grades(BaseModel):
    grades: list[int] = Field(max_length=20)


_LLM_RERANK_PROMPT = (
    "Grade how well each passage answers the question, from 0 (irrelevant) to 3 (answers it "
    "directly). Reply with one grade per passage, in order.\n\nQuestion: {query}\n\n{passages}"
)


class LLMReranker:
    """Asks the LLM to grade passages; slower than a cross-encoder, needs no training."""

    def __init__(self, llm: LLMGateway, *, max_chars: int = 500, batch: int = 8) -> None:
        self.llm = llm
        self.max_chars = max_chars
        self.batch = batch

    async def _grade(self, query: str, hits: list[Hit]) -> list[int]:
        passages = "\n\n".join(
            f"Passage {i + 1}: {h.text[: self.max_chars]}" for i, h in enumerate(hits)
        )
        answer = await self.llm.json(
            [
                {
                    "role": "user",
                    "content": _LLM_RERANK_PROMPT.format(query=query, passages=passages),
                }
            ],
            _Grades,
            max_tokens=16 + 4 * len(hits),
        )
        grades = [min(3, max(0, g)) for g in answer.grades[: len(hits)]]
        return grades + [0] * (len(hits) - len(grades))

    async def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        grades: list[int] = []
        for start in range(0, len(hits), self.batch):
            grades += await self._grade(query, hits[start : start + self.batch])
        # Ties keep the retrieval order, so a grade only ever promotes or demotes.
        order = sorted(range(len(hits)), key=lambda i: (-grades[i], i))
        return [replace(hits[i], score=float(grades[i])) for i in order[:k]]
