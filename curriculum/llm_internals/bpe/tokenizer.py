"""Byte-level byte-pair encoding, trained from scratch.

Text is first cut into chunks by a regex (GPT-4's pattern: contractions, words with one
leading non-letter, numbers of up to 3 digits, punctuation runs, whitespace), so merges never
cross a word boundary. Each chunk is a sequence of UTF-8 bytes (ids 0-255); training repeatedly
fuses the most frequent adjacent pair into a new id. Encoding replays the merges in the order
they were learned; decoding concatenates the bytes of each id.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path

import regex

# GPT-4 (cl100k) pre-tokenization pattern.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|"""
    r"""\s*[\r\n]|\s+(?!\S)|\s+"""
)

Pair = tuple[int, int]


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids``, left to right."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _pairs(ids: list[int]) -> Counter:
    return Counter(itertools.pairwise(ids))


class Tokenizer:
    """A trained byte-level BPE: ``merges`` in learned order, optional special tokens."""

    def __init__(
        self,
        merges: list[Pair] | None = None,
        special_tokens: dict[str, int] | None = None,
        pattern: str = GPT4_PATTERN,
    ) -> None:
        self.merges: dict[Pair, int] = {pair: 256 + i for i, pair in enumerate(merges or [])}
        self.pattern = pattern
        self.compiled = regex.compile(pattern)
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self.special_tokens: dict[str, int] = {}
        self.special_split: regex.Pattern | None = None
        self.register_special_tokens(special_tokens or {})
        self.cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges) + len(self.special_tokens)

    def register_special_tokens(self, tokens: dict[str, int]) -> None:
        """Add tokens such as ``<|endoftext|>`` that are never split or merged."""
        self.special_tokens.update(tokens)
        if self.special_tokens:
            # Longest first, so that a token that is a prefix of another never wins.
            names = sorted(self.special_tokens, key=len, reverse=True)
            self.special_split = regex.compile("(" + "|".join(map(regex.escape, names)) + ")")

    # -- training -----------------------------------------------------------------------------

    @classmethod
    def train(
        cls, text: str, vocab_size: int, pattern: str = GPT4_PATTERN, specials=()
    ) -> Tokenizer:
        """Learn ``vocab_size - 256 - len(specials)`` merges from ``text``.

        The corpus is reduced to its distinct chunks with their counts; pair counts are kept
        up to date incrementally: a merge only revisits the chunks that contain its pair
        (found through ``where``), subtracting their old pairs and adding their new ones.
        Ties go to the pair counted first, which makes training deterministic.
        """
        chunk_counts = Counter(regex.findall(pattern, text))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        counts = list(chunk_counts.values())
        pair_counts: Counter = Counter()
        where: defaultdict[Pair, set[int]] = defaultdict(set)
        for index, (ids, count) in enumerate(zip(words, counts, strict=True)):
            for pair in itertools.pairwise(ids):
                pair_counts[pair] += count
                where[pair].add(index)
        merges: list[Pair] = []
        for new_id in range(256, vocab_size - len(specials)):
            if not pair_counts:
                break
            best = max(pair_counts, key=pair_counts.__getitem__)
            merges.append(best)
            for index in where.pop(best):
                ids, count = words[index], counts[index]
                for pair, n in _pairs(ids).items():
                    pair_counts[pair] -= n * count
                    if pair_counts[pair] <= 0:
                        del pair_counts[pair]
                ids = words[index] = merge(ids, best, new_id)
                for pair, n in _pairs(ids).items():
                    pair_counts[pair] += n * count
                    where[pair].add(index)
            pair_counts.pop(best, None)
        next_id = 256 + len(merges)
        return cls(merges, {name: next_id + i for i, name in enumerate(specials)}, pattern)

    # -- encoding and decoding ----------------------------------------------------------------

    def encode_chunk(self, chunk: str) -> list[int]:
        """One pre-token: merge the lowest-ranked pair present until none is mergeable."""
        cached = self.cache.get(chunk)
        if cached is not None:
            return cached
        ids = list(chunk.encode("utf-8"))
        merges = self.merges
        while len(ids) > 1:
            pair = min(itertools.pairwise(ids), key=lambda p: merges.get(p, 1 << 30))
            if pair not in merges:
                break
            ids = merge(ids, pair, merges[pair])
        self.cache[chunk] = ids
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode, treating special-token strings as plain text."""
        out: list[int] = []
        for chunk in self.compiled.findall(text):
            out.extend(self.encode_chunk(chunk))
        return out

    def encode(self, text: str, allowed_special: bool = True) -> list[int]:
        """Encode; special-token strings become their single id when ``allowed_special``."""
        if not allowed_special or self.special_split is None:
            return self.encode_ordinary(text)
        out: list[int] = []
        for part in self.special_split.split(text):
            if part in self.special_tokens:
                out.append(self.special_tokens[part])
            elif part:
                out.extend(self.encode_ordinary(part))
        return out

    def token_bytes(self, token: int) -> bytes:
        if token in self.vocab:
            return self.vocab[token]
        for name, special in self.special_tokens.items():
            if special == token:
                return name.encode("utf-8")
        raise KeyError(f"unknown token id {token}")

    def decode(self, ids: list[int]) -> str:
        """Bytes of every id, concatenated; a cut inside a UTF-8 character shows as U+FFFD."""
        return b"".join(self.token_bytes(token) for token in ids).decode("utf-8", "replace")

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        payload = {
            "pattern": self.pattern,
            "merges": [list(pair) for pair in self.merges],
            "special_tokens": self.special_tokens,
        }
        Path(path).write_text(json.dumps(payload))

    @classmethod
    def load(cls, path: Path) -> Tokenizer:
        payload = json.loads(Path(path).read_text())
        merges = [tuple(pair) for pair in payload["merges"]]
        return cls(merges, payload["special_tokens"], payload["pattern"])
