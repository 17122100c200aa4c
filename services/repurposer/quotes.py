"""Quotes checked against the transcript: nothing is published as a quote unless it was said.

Matching ignores case, punctuation and spacing, but a verified quote always carries the
transcript's own text of the matched words and the time they were said. A quote the model
paraphrased or invented is replaced by the transcript sentence closest to it, or dropped.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from services.repurposer.model import Quote, Sentence

MIN_QUOTE_WORDS = 4  # shorter "quotes" match too much to prove anything
CLOSEST_MIN_RATIO = 0.6  # token similarity below which a paraphrase has no close sentence
_TOKEN = re.compile(r"\w+(?:['’]\w+)*")
# Text inside curly or straight double quotes.
_QUOTED = re.compile(r"“([^”]+)”|\"([^\"]+)\"")
_TRAILING = ".!?…"


def tokens(text: str) -> list[str]:
    """Lowercase words without punctuation: the form quotes are matched in."""
    return [t.replace("’", "").replace("'", "") for t in _TOKEN.findall(text.lower())]


@dataclass(frozen=True)
class _Place:
    sentence: int  # position in the sentence list
    char_start: int
    char_end: int
    time: float


class TranscriptIndex:
    """The transcript's words in order, each with where it sits in its sentence and when."""

    def __init__(self, sentences: Sequence[Sentence]) -> None:
        self.sentences = list(sentences)
        self.words: list[str] = []
        self.places: list[_Place] = []
        self._at: dict[str, list[int]] = defaultdict(list)
        for position, sentence in enumerate(self.sentences):
            found = list(_TOKEN.finditer(sentence.text))
            times = _token_times(sentence, len(found))
            for match, time in zip(found, times, strict=True):
                word = match.group().lower().replace("’", "").replace("'", "")
                self._at[word].append(len(self.words))
                self.words.append(word)
                self.places.append(_Place(position, match.start(), match.end(), time))

    def find(self, quote: str, *, min_words: int = MIN_QUOTE_WORDS) -> Quote | None:
        """The transcript's own words for ``quote`` if they were said verbatim, else None."""
        wanted = tokens(quote)
        core = quote.strip().rstrip(".…")
        if len(wanted) < min_words or "..." in core or "…" in core:
            return None  # an elided quote is not verbatim
        for first in self._at.get(wanted[0], []):
            if self.words[first : first + len(wanted)] == wanted:
                return self._quote(first, first + len(wanted) - 1)
        return None

    def closest(self, quote: str, *, min_ratio: float = CLOSEST_MIN_RATIO) -> Quote | None:
        """The sentence (or two adjacent ones) most like ``quote``, if alike enough."""
        wanted = tokens(quote)
        if not wanted:
            return None
        best: tuple[float, int, int] | None = None
        for first in range(len(self.sentences)):
            for last in (first, first + 1):
                if last >= len(self.sentences):
                    continue
                text = " ".join(s.text for s in self.sentences[first : last + 1])
                ratio = similarity(wanted, tokens(text))
                if best is None or ratio > best[0]:
                    best = (ratio, first, last)
        if best is None or best[0] < min_ratio:
            return None
        _, first, last = best
        text = " ".join(s.text for s in self.sentences[first : last + 1])
        return Quote(text=text, start=self.sentences[first].start)

    def verify(self, quote: str) -> Quote | None:
        """Verbatim if it was said, else the closest real sentence, else None."""
        return self.find(quote) or self.closest(quote)

    def _quote(self, first: int, last: int) -> Quote:
        a, b = self.places[first], self.places[last]
        end = b.char_end
        closing = self.sentences[b.sentence].text
        while end < len(closing) and closing[end] in _TRAILING:
            end += 1  # keep the sentence's own full stop or question mark
        if a.sentence == b.sentence:
            text = self.sentences[a.sentence].text[a.char_start : end]
        else:
            middle = [s.text for s in self.sentences[a.sentence + 1 : b.sentence]]
            text = " ".join(
                [self.sentences[a.sentence].text[a.char_start :], *middle, closing[:end]]
            )
        return Quote(text=text, start=a.time)


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """0..1: half word order (difflib's ratio), half shared words (Dice over the multisets),
    so a reordered paraphrase still finds its sentence while a new claim on the same topic,
    sharing a few words, does not."""
    if not a or not b:
        return 0.0
    order = SequenceMatcher(None, a, b, autojunk=False).ratio()
    shared = sum((Counter(a) & Counter(b)).values())
    return 0.5 * order + 0.5 * (2 * shared / (len(a) + len(b)))


def _token_times(sentence: Sentence, count: int) -> list[float]:
    """Start time of each of the sentence's ``count`` words: from the ASR words when they line
    up with the text, else spread evenly over the sentence."""
    timed = [(t, w.start) for w in sentence.words for t in tokens(w.text)]
    if len(timed) == count:
        return [start for _, start in timed]
    step = (sentence.end - sentence.start) / max(1, count)
    return [sentence.start + i * step for i in range(count)]


def find_verbatim(quote: str, sentences: Sequence[Sentence]) -> Quote | None:
    """``quote`` as the transcript says it (case, spacing and punctuation aside), or None."""
    return TranscriptIndex(sentences).find(quote)


def ground_quotations(text: str, index: TranscriptIndex) -> tuple[str, list[Quote]]:
    """Check every quotation inside ``text``: one said verbatim is replaced by the transcript's
    wording, one paraphrased by the closest sentence, and one invented loses its quotation
    marks (it stays as prose, no longer presented as someone's words)."""
    verified: list[Quote] = []

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1) or match.group(2)
        if len(tokens(inner)) < MIN_QUOTE_WORDS:
            return match.group(0)  # a scare-quoted word or title, not a quotation
        quote = index.verify(inner)
        if quote is None:
            return inner
        verified.append(quote)
        return f"“{quote.text}”"

    return _QUOTED.sub(replace, text), verified
