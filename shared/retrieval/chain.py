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
    "You answer questions using only the numbered sources provided. Answer in one to three "
    "full sentences. End each sentence with the number of the source it comes from in square "
    "brackets, for example [1]. If the sources do not contain the answer, say that you do not "
    "know. Never invent facts, products or prices."
)
USER_SUFFIX = "Answer in full sentences that end with their source number in square brackets."
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORD = re.compile(r"[a-z0-9$]+(?:\.[0-9]+)?")
_CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Answer:
    text: str
    passages: list[Passage]
    cited: list[int] = field(default_factory=list)  # 1-based, in order of first use
    invalid: list[int] = field(default_factory=list)  # cited numbers with no such source
    attributed: bool = False  # citations were added by lexical matching, not by the model


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


def attribute(text: str, passages: list[Passage], min_overlap: float = 0.6) -> str:
    """Add ``[n]`` to uncited sentences whose words mostly appear in one passage.

    Small local models often answer correctly but drop the citation; this puts back the
    ones the sources support, and leaves unsupported sentences uncited.
    """
    vocab = [set(_WORD.findall(p.text.lower())) for p in passages]
    out = []
    for sentence in _SENTENCE.findall(text):
        words = set(_WORD.findall(sentence.lower())) - {"the", "a", "an", "is", "it", "of"}
        if _CITATION.search(sentence) or not words:
            out.append(sentence)
            continue
        overlaps = [len(words & v) / len(words) for v in vocab]
        best = max(range(len(passages)), key=lambda i: overlaps[i])
        if overlaps[best] >= min_overlap:
            stripped = sentence.rstrip()
            tail = sentence[len(stripped) :]
            body, end = (stripped[:-1], stripped[-1]) if stripped[-1:] in ".!?" else (stripped, "")
            sentence = f"{body} [{best + 1}]{end}{tail}"
        out.append(sentence)
    return "".join(out)


def _messages(question: str, context: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": f"Sources:\n\n{context}\n\nQuestion: {question}\n\n{USER_SUFFIX}",
        },
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
        text = result.text
        cited, invalid = check_citations(text, len(passages))
        attributed = False
        if not cited:
            text = attribute(text, passages)
            cited, _ = check_citations(text, len(passages))
            attributed = bool(cited)
        return Answer(strip_invalid(text, invalid).strip(), passages, cited, invalid, attributed)

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
