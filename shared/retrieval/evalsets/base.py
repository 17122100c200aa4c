"""The shapes every evaluation set shares."""

from __future__ import annotations

from dataclasses import dataclass

from shared.retrieval.types import Document


class EvalSetUnavailable(RuntimeError):
    """The data an evaluation set is built from is not installed; the message says what to do."""


@dataclass(frozen=True)
class EvalQuery:
    id: str
    text: str
    relevance: dict[str, int]  # Document.source -> graded relevance (> 0); unlisted means 0
    kind: str = ""  # optional query type, for per-type breakdowns ("typo", "attribute", ...)


@dataclass(frozen=True)
class EvalSet:
    name: str
    description: str
    documents: list[Document]
    queries: list[EvalQuery]

    @property
    def graded(self) -> bool:
        """True when some label is above 1 (binary sets only use grade 1)."""
        return any(g > 1 for q in self.queries for g in q.relevance.values())
