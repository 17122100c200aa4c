"""Context windowing: sentence windows, parent documents, merged neighbours, and a numbered,
token-budgeted context whose every passage cites its source span."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from shared.retrieval.types import Document, Hit

Expansion = Literal["none", "sentence_window", "parent"]
CHARS_PER_TOKEN = 3.5  # conservative for English with Qwen/Llama-style tokenizers


@dataclass(frozen=True)
class Passage:
    """A contiguous span of one source document that goes into the prompt."""

    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    url: str | None = None
    hit_ids: tuple[int, ...] = field(default_factory=tuple)

    def citation(self) -> str:
        return f"{self.title or self.source} ({self.source}, chars {self.start}-{self.end})"


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    from shared.retrieval.splitters import sentence_spans

    return sentence_spans(text)


def expand(hits: list[Hit], documents: dict[str, Document], how: Expansion,
           window: int = 2) -> list[Passage]:  # fmt: skip
    """Turn hits into passages: as matched, widened by ``window`` sentences each side, or the
    whole parent document."""
    passages = []
    spans_cache: dict[str, list[tuple[int, int]]] = {}
    for hit in hits:
        doc = documents.get(hit.source)
        start = hit.start if hit.start is not None else 0
        end = hit.end if hit.end is not None else len(hit.text)
        if doc is None or how == "none" or hit.start is None:
            text = hit.text
        elif how == "parent":
            start, end, text = 0, len(doc.text), doc.text
        else:
            spans = spans_cache.setdefault(hit.source, _sentence_spans(doc.text))
            first = next((i for i, (_, e) in enumerate(spans) if e > start), 0)
            last = next((i for i, (s, _) in enumerate(spans) if s >= end), len(spans)) - 1
            lo, hi = max(0, first - window), min(len(spans) - 1, max(first, last) + window)
            start, end = (spans[lo][0], spans[hi][1]) if spans else (start, end)
            text = doc.text[start:end]
        passages.append(
            Passage(hit.source, hit.title, text, start, end, hit.score,
                    doc.url if doc else None, (hit.id,))
        )  # fmt: skip
    return passages


def merge_adjacent(passages: list[Passage], documents: dict[str, Document],
                   gap: int = 1) -> list[Passage]:  # fmt: skip
    """Merge passages of one document that overlap or touch, keeping the best score and the
    rank of the best passage."""
    merged: list[Passage] = []
    for p in passages:
        target = next(
            (i for i, m in enumerate(merged)
             if m.source == p.source and p.start <= m.end + gap and m.start <= p.end + gap),
            None,
        )  # fmt: skip
        if target is None:
            merged.append(p)
            continue
        m = merged[target]
        start, end = min(m.start, p.start), max(m.end, p.end)
        doc = documents.get(p.source)
        text = doc.text[start:end] if doc else (m.text if m.start <= p.start else p.text)
        best = max(m.score, p.score)
        merged[target] = replace(
            m, start=start, end=end, text=text, score=best, hit_ids=m.hit_ids + p.hit_ids
        )
    return merged


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def build_context(passages: list[Passage], budget_tokens: int) -> tuple[str, list[Passage]]:
    """Number passages ``[1]``, ``[2]`` … in rank order until the budget is spent. A passage
    that does not fit whole is cut at a sentence-ish boundary rather than dropped, if at
    least a quarter of it fits."""
    blocks, used, kept = [], 0, []
    for passage in passages:
        header = f"[{len(kept) + 1}] {passage.citation()}\n"
        cost = estimate_tokens(header + passage.text)
        if used + cost > budget_tokens:
            room_chars = int((budget_tokens - used - estimate_tokens(header)) * CHARS_PER_TOKEN)
            if room_chars < len(passage.text) // 4 or room_chars <= 0:
                break
            cut = passage.text[:room_chars]
            cut = cut[: max(cut.rfind(". ") + 1, room_chars // 2)]
            passage = replace(passage, text=cut, end=passage.start + len(cut))
            header = f"[{len(kept) + 1}] {passage.citation()}\n"
            cost = estimate_tokens(header + passage.text)
        blocks.append(header + passage.text)
        kept.append(passage)
        used += cost
    return "\n\n".join(blocks), kept
