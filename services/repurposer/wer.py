"""Word error rate: (substitutions + deletions + insertions) / reference words.

Texts are normalised first: lower case, apostrophes and hyphens inside words kept as one
word ("don't"), hyphens and other punctuation dropped ("twenty-two" -> "twenty two"),
numbers spoken out ("92" -> "ninety two") and a few abbreviations too ("Mr." -> "mister"),
so "Ninety-two degrees." and "92 degrees" match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """0-999999 in English words ("ninety two"); larger numbers digit by digit."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = "" if n % 100 == 0 else " " + number_words(n % 100)
        return f"{_ONES[n // 100]} hundred{rest}"
    if n < 1_000_000:
        rest = "" if n % 1000 == 0 else " " + number_words(n % 1000)
        return f"{number_words(n // 1000)} thousand{rest}"
    return " ".join(_ONES[int(d)] for d in str(n))


_NUMBER = re.compile(r"\d+")
# Spoken forms of the abbreviations Whisper writes ("Mr." for "mister").
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "ms": "miss", "dr": "doctor", "st": "saint"}


def normalise(text: str) -> list[str]:
    """The words of ``text`` as compared: lower case, no punctuation, numbers as words."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    text = re.sub(r"(?<=\d)%", " percent", text)
    text = _NUMBER.sub(lambda m: f" {number_words(int(m.group()))} ", text)
    text = re.sub(r"[-‐‑–—/]", " ", text)
    # Keep apostrophes inside words only; everything that isn't a letter, digit or space goes.
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    text = "".join(ch if ch.isalnum() or ch.isspace() or ch == "'" else " " for ch in text)
    return [_ABBREVIATIONS.get(word, word) for word in text.split()]


@dataclass(frozen=True)
class WerDetail:
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else float(self.errors)
        return self.errors / self.reference_words


def word_errors(reference: str | list[str], hypothesis: str | list[str]) -> WerDetail:
    """Levenshtein alignment over normalised words, counting each kind of edit."""
    ref = normalise(reference) if isinstance(reference, str) else reference
    hyp = normalise(hypothesis) if isinstance(hypothesis, str) else hypothesis
    # Each cell: (cost, substitutions, deletions, insertions); one row kept at a time.
    previous = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        current = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            diag = previous[j - 1]
            if ref[i - 1] == hyp[j - 1]:
                best = diag
            else:
                best = (diag[0] + 1, diag[1] + 1, diag[2], diag[3])
            up = previous[j]  # reference word left out: deletion
            if up[0] + 1 < best[0]:
                best = (up[0] + 1, up[1], up[2] + 1, up[3])
            left = current[j - 1]  # extra hypothesis word: insertion
            if left[0] + 1 < best[0]:
                best = (left[0] + 1, left[1], left[2], left[3] + 1)
            current.append(best)
        previous = current
    _, subs, dels, ins = previous[-1]
    return WerDetail(subs, dels, ins, len(ref))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of ``hypothesis`` against ``reference`` after normalisation (0.0 = identical).

    With an empty reference: 0.0 if the hypothesis is empty too, else its word count.
    """
    return word_errors(reference, hypothesis).wer
