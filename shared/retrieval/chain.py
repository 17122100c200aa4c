"""The generation chain: retrieve → build a cited context within a token budget → answer
through the gateway with inline citations ``[n]`` → check that every citation exists."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from shared.models.llm import LLMGateway
from shared.retrieval.context import Passage, build_context
from shared.retrieval.retriever import Retriever

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources provided. After each claim, cite "
    "the source it comes from as [1], [2], etc. If the sources do not contain the answer, say "
    "that you do not know. Never invent facts, products or prices."
)
_CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Answer:
    text: str
    passages: list[Passage]
    cited: list[int] = field(default_factory=list)  # 1-based, in order of first use
    invalid: list[int] = field(default_factory=list)  # cited numbers with no such source


def check_citations(text: str, n_sources: int) -> tuple[list[int], list[int]]:
    cited, invalid = [], []
    for match in _CITATION.finditer(text):
        number = int(match.group(1))
        bucket = cited if 1 <= number <= n_sources else invalid
        if number not in bucket:
            bucket.append(number)
    return cited, invalid


def strip_invalid(text: str, invalid: list[int]) -> str:
    if not invalid:
        return text
    return _CITATION.sub(lambda m: "" if int(m.group(1)) in invalid else m.group(0), text)


def _messages(question: str, context: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Sources:\n\n{context}\n\nQuestion: {question}"},
    ]


@dataclass
class AnswerChain:
    retriever: Retriever
    llm: LLMGateway
    context_tokens: int = 1500
    max_tokens: int = 400

    async def _context(self, question: str, **overrides: Any) -> tuple[str, list[Passage]]:
        passages = await self.retriever.passages(question, **overrides)
        return build_context(passages, self.context_tokens)

    async def answer(self, question: str, **overrides: Any) -> Answer:
        context, passages = await self._context(question, **overrides)
        if not passages:
            return Answer("I could not find anything about that in the sources.", [])
        result = await self.llm.chat(
            _messages(question, context), max_tokens=self.max_tokens, temperature=0.2
        )
        cited, invalid = check_citations(result.text, len(passages))
        return Answer(strip_invalid(result.text, invalid).strip(), passages, cited, invalid)

    async def stream(self, question: str, **overrides: Any) -> AsyncIterator[dict[str, Any]]:
        """Events: ``sources`` (the numbered passages), ``delta`` (text), then ``done`` with
        the citation check (invalid numbers cannot be unsent, so they are reported)."""
        context, passages = await self._context(question, **overrides)
        yield {
            "type": "sources",
            "sources": [
                {"n": i + 1, "source": p.source, "title": p.title, "start": p.start,
                 "end": p.end, "url": p.url}
                for i, p in enumerate(passages)
            ],
        }  # fmt: skip
        if not passages:
            text = "I could not find anything about that in the sources."
            yield {"type": "delta", "text": text}
            yield {"type": "done", "cited": [], "invalid": []}
            return
        parts = []
        async for delta in self.llm.stream(
            _messages(question, context), max_tokens=self.max_tokens, temperature=0.2
        ):
            parts.append(delta)
            yield {"type": "delta", "text": delta}
        cited, invalid = check_citations("".join(parts), len(passages))
        yield {"type": "done", "cited": cited, "invalid": invalid}
