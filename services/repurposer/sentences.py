"""Whisper words grouped into sentences, the unit every later stage works on.

A sentence ends at terminal punctuation. Speech without punctuation (or a speaker who never
stops) would make one endless sentence, so long runs are split at the longest pause, else at
a comma, else in the middle, until no piece is longer than ``max_words``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.repurposer.model import Sentence, TranscriptDoc, Word

# Closing quotes or brackets may follow the full stop: `he said "stop."`
_TERMINAL = re.compile(r"[.?!…]+[\"'”’)\]]*$")
# A full stop after these ends an abbreviation, not a sentence.
# fmt: off
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "jr", "sr", "inc", "ltd",
    "co", "approx", "no", "fig",
})
# fmt: on
# Tokens that attach to the previous word without a space.
_NO_SPACE_BEFORE = re.compile(r"^(?:[,.;:!?…%)\]}”’]|'(?:s|t|re|ve|ll|d|m)\b|n't\b)", re.I)

MAX_WORDS = 40
SPLIT_PAUSE = 0.7  # seconds of silence that mark a natural break in a run-on
MIN_PIECE_WORDS = 4  # a split never leaves a fragment shorter than this


def join_words(words: Sequence[Word]) -> str:
    """The words as clean text: Whisper's leading spaces respected, punctuation attached."""
    text = ""
    for word in words:
        token = word.text
        if not token.strip():
            continue
        if text and not token[0].isspace() and not _NO_SPACE_BEFORE.match(token):
            text += " "
        text += token
    return re.sub(r"\s+", " ", text).strip()


def ends_sentence(token: str) -> bool:
    token = token.strip()
    if not _TERMINAL.search(token):
        return False
    bare = token.rstrip(".\"'”’)]").lower()
    return not (token.endswith(".") and bare in _ABBREVIATIONS)


def to_sentences(
    words: Sequence[Word],
    *,
    max_words: int = MAX_WORDS,
    split_pause: float = SPLIT_PAUSE,
) -> list[Sentence]:
    """Group ``words`` (in time order) into sentences with their word timings kept."""
    groups: list[list[Word]] = []
    current: list[Word] = []
    for word in words:
        if not word.text.strip():
            continue
        current.append(word)
        if ends_sentence(word.text):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    pieces = [p for g in groups for p in _split_run_on(g, max_words, split_pause)]
    return [
        Sentence(index=i, start=p[0].start, end=p[-1].end, text=join_words(p), words=list(p))
        for i, p in enumerate(pieces)
    ]


def _split_run_on(words: list[Word], max_words: int, split_pause: float) -> list[list[Word]]:
    if len(words) <= max_words:
        return [words]
    at = _split_point(words, split_pause)
    return _split_run_on(words[:at], max_words, split_pause) + _split_run_on(
        words[at:], max_words, split_pause
    )


def _split_point(words: list[Word], split_pause: float) -> int:
    """Index of the first word of the second piece."""
    lo, hi = MIN_PIECE_WORDS, len(words) - MIN_PIECE_WORDS
    if lo > hi:
        return len(words) // 2
    middle = len(words) / 2
    # The longest pause wins (ties: nearer the middle keeps pieces balanced).
    pause, at = max(
        ((words[i].start - words[i - 1].end, -abs(i - middle)), i) for i in range(lo, hi + 1)
    )
    if pause[0] > split_pause:
        return at
    commas = [i for i in range(lo, hi + 1) if words[i - 1].text.rstrip().endswith((",", ";", ":"))]
    if commas:
        return min(commas, key=lambda i: abs(i - middle))
    return int(middle)


def build_transcript(
    words: Sequence[Word],
    *,
    language: str,
    duration: float,
    backend: str,
    model: str,
    language_probability: float = 1.0,
    max_words: int = MAX_WORDS,
) -> TranscriptDoc:
    """A ``TranscriptDoc`` of ``words`` grouped into sentences."""
    return TranscriptDoc(
        language=language,
        language_probability=language_probability,
        duration=duration,
        backend=backend,
        model=model,
        sentences=to_sentences(words, max_words=max_words),
    )


def sentences_from_text(
    texts: Sequence[str], spans: Sequence[tuple[float, float]]
) -> list[Sentence]:
    """Sentences from known text and (start, end) spans, words spread evenly over each span.

    For scripts with known timing (samples, imported captions) where no ASR word times exist.
    """
    sentences = []
    for i, (text, (start, end)) in enumerate(zip(texts, spans, strict=True)):
        tokens = text.split()
        step = (end - start) / max(1, len(tokens))
        words = [
            Word(start=start + k * step, end=start + (k + 1) * step, text=(" " if k else "") + t)
            for k, t in enumerate(tokens)
        ]
        sentences.append(Sentence(index=i, start=start, end=end, text=text.strip(), words=words))
    return sentences
