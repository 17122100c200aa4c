"""The same training with HuggingFace ``tokenizers``: compression, shared merges, speed."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from curriculum.llm_internals.bpe.tokenizer import GPT4_PATTERN, Tokenizer


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, used by HF's ByteLevel pre-tokenizer.

    Bytes that are printable Latin-1 characters stand for themselves; the 68 others (control
    characters, space, NBSP, soft hyphen...) are shifted to 256, 257, ... in byte order.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, shift = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shift)
            shift += 1
    return table


def train_hf(text: str, vocab_size: int):
    """A HF BPE with our regex split followed by byte-level mapping, same vocab size."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Regex, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers.trainers import BpeTrainer

    tokenizer = HFTokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT4_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([text], trainer=trainer)
    return tokenizer


def hf_merged_tokens(hf) -> set[bytes]:
    """The byte strings of HF's merged tokens (every vocab entry longer than one byte)."""
    unmap = {char: byte for byte, char in byte_to_unicode().items()}
    tokens = (bytes(unmap[char] for char in token) for token in hf.get_vocab())
    return {token for token in tokens if len(token) > 1}


@dataclass
class Comparison:
    vocab_size: int
    ours_train_s: float
    hf_train_s: float
    ours_bytes_per_token: float
    hf_bytes_per_token: float
    merge_overlap: float  # |ours ∩ hf| / |ours|, over the merged tokens' byte strings
    first_merges_equal: int  # how many of the first merges produce the same token, in order
    ours_encode_mb_s: float
    ours_cold_encode_mb_s: float
    hf_encode_mb_s: float
    hf_round_trip: bool

    @property
    def throughput_ratio(self) -> float:
        return self.ours_encode_mb_s / self.hf_encode_mb_s


def compare(train_text: str, test_text: str, vocab_size: int) -> tuple[Comparison, Tokenizer]:
    start = time.perf_counter()
    ours = Tokenizer.train(train_text, vocab_size)
    ours_train = time.perf_counter() - start
    start = time.perf_counter()
    hf = train_hf(train_text, vocab_size)
    hf_train = time.perf_counter() - start

    size = len(test_text.encode("utf-8"))
    start = time.perf_counter()
    ours_ids = ours.encode(test_text)  # cold: every distinct chunk merged once
    ours_cold = time.perf_counter() - start
    ours_warm = _best_time(lambda: ours.encode(test_text))
    hf_ids = hf.encode(test_text).ids
    hf_time = _best_time(lambda: hf.encode(test_text))

    ours_tokens = {ours.vocab[token] for token in range(256, 256 + len(ours.merges))}
    theirs = hf_merged_tokens(hf)
    hf_order = [_hf_bytes(hf, merge) for merge in _hf_merges(hf)]
    ours_order = [ours.vocab[token] for token in range(256, 256 + len(ours.merges))]
    same_prefix = 0
    for a, b in zip(ours_order, hf_order, strict=False):
        if a != b:
            break
        same_prefix += 1
    result = Comparison(
        vocab_size=vocab_size,
        ours_train_s=ours_train,
        hf_train_s=hf_train,
        ours_bytes_per_token=size / len(ours_ids),
        hf_bytes_per_token=size / len(hf_ids),
        merge_overlap=len(ours_tokens & theirs) / len(ours_tokens),
        first_merges_equal=same_prefix,
        ours_encode_mb_s=size / ours_warm / 1e6,
        ours_cold_encode_mb_s=size / ours_cold / 1e6,
        hf_encode_mb_s=size / hf_time / 1e6,
        hf_round_trip=hf.decode(hf_ids) == test_text,
    )
    return result, ours


def _hf_merges(hf) -> list[tuple[str, str]]:
    import json

    merges = json.loads(hf.to_str())["model"]["merges"]
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]


def _hf_bytes(hf, merge: tuple[str, str]) -> bytes:
    unmap = {char: byte for byte, char in byte_to_unicode().items()}
    return bytes(unmap[char] for char in merge[0] + merge[1])


def _best_time(function, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best
