"""What the writers tell the LLM: a context block that fits the small model's window, and the
instructions for each kind of post.

The embedded model has 8k tokens shared by two slots, so a prompt stays under about 3000
tokens and leaves the rest for the answer. An hour's transcript does not fit; the context is
the chapters (titles and summaries), the highlights (the best moments, verbatim) and as much
of the transcript as the budget allows, taken from the start of every chapter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from services.repurposer.exports import clock
from services.repurposer.model import AssetKind, Chapter, Highlight, Sentence

CONTEXT_TOKENS = 2200
CHAPTER_TOKENS = 450
HIGHLIGHT_TOKENS = 600

SYSTEM = (
    "You are a content writer who turns recorded talks into posts. Write only from the "
    "material given: no facts, numbers or names that are not in it. Put quotation marks only "
    "around words copied exactly from the transcript."
)

INSTRUCTIONS: dict[AssetKind, str] = {
    "blog": (
        "Write a short blog post about this talk: a title, a 2-sentence intro, 2 or 3 sections "
        "each with a heading and a short paragraph, and 2 or 3 short quotes copied word for "
        "word from the transcript."
    ),
    "thread": (
        "Write an X (Twitter) thread about this talk: 4 to 6 tweets, each under 250 "
        "characters. The first tweet hooks the reader; the last one sums up."
    ),
    "linkedin": (
        "Write a LinkedIn post about this talk: a one-line hook, a short body paragraph, 2 to "
        "4 key takeaways, a question that invites comments, and one short quote copied word "
        "for word from the transcript."
    ),
    "instagram": (
        "Write an Instagram caption about this talk (friendly, at most 3 short paragraphs) "
        "and 5 to 10 relevant hashtags (single words, no spaces)."
    ),
    "newsletter": (
        "Write a newsletter blurb about this talk: an email subject line, a blurb of 2 or 3 "
        "sentences that makes readers want to listen, and one short quote copied word for "
        "word from the transcript."
    ),
    "show_notes": (
        "Write podcast show notes for this talk: a summary paragraph and 3 to 5 key points. "
        "The chapter list is added separately."
    ),
}


def approx_tokens(text: str) -> int:
    """About 4 characters a token for English with a BPE tokenizer; errs on the high side."""
    return math.ceil(len(text) / 3.6)


def _take(lines: Sequence[str], budget: int) -> list[str]:
    taken, used = [], 0
    for line in lines:
        cost = approx_tokens(line) + 1
        if used + cost > budget:
            break
        taken.append(line)
        used += cost
    return taken


def build_context(
    sentences: Sequence[Sentence],
    chapters: Sequence[Chapter] = (),
    highlights: Sequence[Highlight] = (),
    *,
    budget: int = CONTEXT_TOKENS,
) -> str:
    """Chapters, highlights and a transcript excerpt, together about ``budget`` tokens."""
    parts: list[str] = []
    if chapters:
        lines = [f"- [{clock(c.start)}] {c.title}: {c.summary}".rstrip(": ") for c in chapters]
        parts.append("Chapters:\n" + "\n".join(_take(lines, CHAPTER_TOKENS)))
    if highlights:
        lines = [f"- [{clock(h.start)}] {h.text}" for h in highlights]
        parts.append("Best moments (verbatim):\n" + "\n".join(_take(lines, HIGHLIGHT_TOKENS)))
    left = budget - sum(approx_tokens(p) for p in parts)
    excerpt = transcript_excerpt(sentences, chapters, budget=max(0, left))
    if excerpt:
        parts.append("Transcript:\n" + excerpt)
    return "\n\n".join(parts)


def transcript_excerpt(
    sentences: Sequence[Sentence], chapters: Sequence[Chapter] = (), *, budget: int
) -> str:
    """The whole transcript when it fits; else the opening of every chapter (or of evenly
    spaced stretches), each its share of ``budget``, with gaps marked."""
    full = " ".join(s.text for s in sentences)
    if approx_tokens(full) <= budget:
        return full
    if chapters:
        groups = [
            [s for s in sentences if c.sentence_start <= s.index <= c.sentence_end]
            for c in chapters
        ]
    else:
        size = max(1, len(sentences) // 6)
        groups = [list(sentences[i : i + size]) for i in range(0, len(sentences), size)]
    share = budget // max(1, len(groups))
    pieces = []
    for group in groups:
        taken = _take([s.text for s in group], share)
        if taken:
            pieces.append(" ".join(taken) + (" [...]" if len(taken) < len(group) else ""))
    return "\n".join(pieces)


def messages(
    kind: AssetKind,
    context: str,
    *,
    instruction: str = "",
    previous: str = "",
) -> list[dict[str, str]]:
    """The chat for one asset; ``instruction`` and ``previous`` make it a rewrite."""
    user = f"{context}\n\nTask: {INSTRUCTIONS[kind]}"
    if previous:
        user += f"\n\nThe current version, to rewrite:\n{previous[:1500]}"
    if instruction:
        user += f"\n\nThe editor asks: {instruction.strip()[:300]}. Follow this request."
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
