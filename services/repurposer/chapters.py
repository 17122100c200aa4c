"""Chapters by TextTiling over sentence embeddings, titled by the LLM or by keywords.

Each gap between sentences is scored by how similar the ``window`` sentences before it are to
the ``window`` after it. A topic change is a valley in that curve; its depth (how far the
similarity falls from the peaks on either side) says how sharp the change is. Valleys deeper
than ``mean - std/2`` of all valley depths become boundaries, deepest first, as long as every
chapter stays at least ``min_chapter_seconds`` long (a valley deeper than ``STRONG_DEPTH``
counts whatever the others are).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from services.repurposer.model import Chapter, Sentence
from shared.models.llm import LLMError, LLMGateway

logger = logging.getLogger(__name__)

MAX_TITLE_WORDS = 8
STRONG_DEPTH = 0.6  # summed cosine fall from both peaks; MiniLM noise valleys stay under 0.35
MAX_CHAPTERS = 20
SECONDS_PER_CHAPTER = 30.0
CHAPTER_PROMPT_CHARS = 2400  # about 600 tokens of the chapter's own words

# fmt: off
STOPWORDS = frozenset({
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "even",
    "every", "few", "for", "from", "further", "get", "gets", "got", "had", "has", "have", "having",
    "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "itself", "just", "let", "like", "lot", "lots", "made", "make",
    "many", "may", "me", "might", "more", "most", "much", "must", "my", "myself", "need", "needs",
    "no", "nor", "not", "now", "of", "off", "often", "on", "once", "one", "only", "or", "other",
    "our", "ours", "out", "over", "own", "really", "right", "same", "say", "says", "see", "she",
    "should", "so", "some", "still", "such", "take", "than", "that", "the", "their", "theirs",
    "them", "then", "there", "these", "they", "thing", "things", "think", "this", "those",
    "through", "to", "today", "too", "under", "until", "up", "us", "very", "want", "was", "way",
    "we", "well", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "would", "yes", "yet", "you", "your", "yours", "yourself", "going", "gonna", "know",
    "okay", "actually", "basically", "mean", "something", "kind", "sort", "come", "came", "back",
    "first", "last", "next", "new", "two", "three",
})
# fmt: on
_WORD = re.compile(r"[a-z][a-z'\-]+")


class Embeds(Protocol):
    """What segmentation needs of ``shared.models.embeddings.Embedder``."""

    async def aembed(self, texts: Sequence[str]) -> np.ndarray: ...


class _ChapterText(BaseModel):
    # Bounded: a small model otherwise runs on until max_tokens.
    title: str = Field(min_length=3, max_length=60)
    summary: str = Field(max_length=320)


_PROMPT = (
    "Here is one chapter of a recorded talk.\n\n<chapter>\n{text}\n</chapter>\n\n"
    "Give it a title of at most 8 words that names its topic, and a summary of one or two "
    "sentences of what is said in it. Use only what the chapter says."
)


async def segment_chapters(
    sentences: Sequence[Sentence],
    embedder: Embeds,
    *,
    gateway: LLMGateway | None = None,
    min_chapter_seconds: float = 20.0,
    window: int | None = None,
    max_chapters: int | None = None,
    concurrency: int = 4,
) -> list[Chapter]:
    """Chapters covering ``sentences`` in order, titled (LLM if ``gateway``, else keywords).

    ``max_chapters`` defaults to one per ``SECONDS_PER_CHAPTER`` of talk, at most
    ``MAX_CHAPTERS``: an hour-long podcast has many small valleys, and 60 chapters help nobody.
    """
    if not sentences:
        return []
    if max_chapters is None:
        duration = sentences[-1].end - sentences[0].start
        max_chapters = min(MAX_CHAPTERS, max(1, int(duration // SECONDS_PER_CHAPTER)))
    vectors = await embedder.aembed([s.text for s in sentences])
    cuts = find_boundaries(
        vectors,
        [(s.start, s.end) for s in sentences],
        window=window,
        min_chapter_seconds=min_chapter_seconds,
        max_chapters=max_chapters,
    )
    edges = [0, *cuts, len(sentences)]
    groups = [list(sentences[a:b]) for a, b in pairwise(edges)]
    chapters = [
        Chapter(
            index=i,
            start=g[0].start,
            end=g[-1].end,
            title="",
            sentence_start=g[0].index,
            sentence_end=g[-1].index,
        )
        for i, g in enumerate(groups)
    ]
    keyword_titles = fallback_titles(groups)
    for chapter, group, title in zip(chapters, groups, keyword_titles, strict=True):
        chapter.title = title
        chapter.summary = _first_sentences(group)
    if gateway is not None:
        limit = asyncio.Semaphore(concurrency)

        async def titled(chapter: Chapter, group: list[Sentence]) -> None:
            async with limit:
                answer = await _llm_title(gateway, group)
            if answer is not None:
                chapter.title, chapter.summary = answer

        await asyncio.gather(*(titled(c, g) for c, g in zip(chapters, groups, strict=True)))
    return chapters


def find_boundaries(
    vectors: np.ndarray,
    spans: Sequence[tuple[float, float]],
    *,
    window: int | None = None,
    min_chapter_seconds: float = 20.0,
    max_chapters: int | None = None,
) -> list[int]:
    """Indices of the sentences that open a new chapter (never 0), ascending."""
    n = len(spans)
    k = window or min(8, max(3, n // 12))  # wider windows for longer talks smooth the noise
    if n < 4:
        return []
    similarity = gap_similarities(vectors, k)
    depth = depth_scores(similarity)
    # Gap g (1..n-1) sits before sentence g; a chapter needs two sentences at least.
    valleys = [g for g in range(2, n - 1) if depth[g - 1] > 0]
    if not valleys:
        return []
    depths = np.array([depth[g - 1] for g in valleys])
    # Hearst's relative cutoff drops the weakest real change when every valley is real (a
    # short talk with crisp topics), so a fall of ``STRONG_DEPTH`` always counts.
    cutoff = min(depths.mean() - depths.std() / 2, STRONG_DEPTH)
    chosen: list[int] = []
    for g in sorted(valleys, key=lambda g: -depth[g - 1]):
        if depth[g - 1] <= cutoff or (max_chapters and len(chosen) + 1 >= max_chapters):
            break
        edges = sorted([0, *chosen, g, n])
        spans_ok = all(
            spans[b - 1][1] - spans[a][0] >= min_chapter_seconds for a, b in pairwise(edges)
        )
        if spans_ok:
            chosen.append(g)
    return sorted(chosen)


def gap_similarities(vectors: np.ndarray, window: int) -> np.ndarray:
    """Cosine similarity of the mean embedding of the ``window`` sentences before each gap to
    the mean of the ``window`` after it; entry g-1 is the gap before sentence g."""
    n = len(vectors)
    sims = np.zeros(max(0, n - 1))
    for g in range(1, n):
        left = vectors[max(0, g - window) : g].mean(axis=0)
        right = vectors[g : g + window].mean(axis=0)
        norm = float(np.linalg.norm(left) * np.linalg.norm(right)) or 1.0
        sims[g - 1] = float(left @ right) / norm
    return sims


def depth_scores(similarity: np.ndarray) -> np.ndarray:
    """For each local minimum: (highest peak climbing left - value) + (right peak - value);
    zero elsewhere."""
    depth = np.zeros_like(similarity)
    n = len(similarity)
    for i in range(n):
        value = similarity[i]
        is_min = (i == 0 or similarity[i - 1] >= value) and (
            i == n - 1 or similarity[i + 1] >= value
        )
        if not is_min:
            continue
        left = i
        while left > 0 and similarity[left - 1] >= similarity[left]:
            left -= 1
        right = i
        while right < n - 1 and similarity[right + 1] >= similarity[right]:
            right += 1
        depth[i] = (similarity[left] - value) + (similarity[right] - value)
    return depth


async def _llm_title(gateway: LLMGateway, group: list[Sentence]) -> tuple[str, str] | None:
    text = " ".join(s.text for s in group)
    if len(text) > CHAPTER_PROMPT_CHARS:
        # Beginning and end: a chapter announces its topic early and sums up late.
        half = CHAPTER_PROMPT_CHARS // 2
        text = f"{text[:half]} [...] {text[-half:]}"
    try:
        answer = await gateway.json(
            [{"role": "user", "content": _PROMPT.format(text=text)}], _ChapterText, max_tokens=160
        )
    except (LLMError, TimeoutError) as exc:
        logger.info("chapter title from keywords, the LLM failed: %s", exc)
        return None
    title = clean_title(answer.title)
    if not title:
        return None
    return title, answer.summary.strip()


def clean_title(title: str) -> str:
    words = title.strip().strip("\"'“”").rstrip(".").split()
    return " ".join(words[:MAX_TITLE_WORDS])


def keywords(text: str, *, reference: Sequence[str] = (), count: int = 3) -> list[str]:
    """The ``count`` most telling words of ``text``: frequent in it, rare in ``reference``."""
    counts = Counter(w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 2)
    if not counts:
        return []
    seen_in = Counter(w for doc in reference for w in set(_WORD.findall(doc.lower())))
    total = len(reference) or 1

    def weight(word: str) -> float:
        return counts[word] * (math.log((1 + total) / (1 + seen_in[word])) + 1)

    return sorted(counts, key=lambda w: (-weight(w), w))[:count]


def fallback_titles(groups: Sequence[Sequence[Sentence]]) -> list[str]:
    texts = [" ".join(s.text for s in g) for g in groups]
    titles = []
    for i, text in enumerate(texts):
        words = [w.capitalize() for w in keywords(text, reference=texts)]
        if not words:
            titles.append(f"Part {i + 1}")
        elif len(words) == 1:
            titles.append(words[0])
        else:
            titles.append(f"{', '.join(words[:-1])} and {words[-1]}")
    return titles


def _first_sentences(group: Sequence[Sentence], limit: int = 240) -> str:
    """An extractive summary: the chapter's opening sentences, up to ``limit`` characters."""
    summary = ""
    for sentence in group:
        if summary and len(summary) + len(sentence.text) > limit:
            break
        summary = f"{summary} {sentence.text}".strip()
    return summary[:limit]
