"""Qwen's tokenizer, read from the GGUF file the suite serves, run by our encoder.

A GGUF file carries its tokenizer as metadata: ``tokenizer.ggml.tokens`` (every token as text
in GPT-2's byte -> printable-character alphabet), ``tokenizer.ggml.merges`` (``"Ġ t"``, in
rank order), ``tokenizer.ggml.token_type`` (1 normal, 3 control, 4 user-defined, 5 unused) and
``tokenizer.ggml.pre`` (which pre-tokenizer regex to use). Our ``Tokenizer`` numbers bytes
0-255 and merges 256, 257, ... in order; ``GGUFTokenizer`` builds it from the model's merges and
translates its ids to the model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curriculum.llm_internals.bpe.compare import byte_to_unicode
from curriculum.llm_internals.bpe.tokenizer import Tokenizer

# llama.cpp's and HF's Qwen2 pre-tokenizer: like GPT-4's, but digits one at a time and
# newline runs kept whole.
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
    r"""\s*[\r\n]+|\s+(?!\S)|\s+"""
)
PATTERNS = {"qwen2": QWEN2_PATTERN}
SPECIAL_TYPES = {3, 4}  # control and user-defined tokens are matched whole, never merged


@dataclass
class GGUFVocab:
    tokens: list[str]
    merges: list[str]
    token_types: list[int]
    pre: str


def read_vocab(path: Path) -> GGUFVocab:
    import gguf

    reader = gguf.GGUFReader(str(path))

    def strings(key: str) -> list[str]:
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

    types = reader.fields["tokenizer.ggml.token_type"]
    pre = reader.fields["tokenizer.ggml.pre"]
    return GGUFVocab(
        tokens=strings("tokenizer.ggml.tokens"),
        merges=strings("tokenizer.ggml.merges"),
        token_types=[int(types.parts[i][0]) for i in types.data],
        pre=bytes(pre.parts[pre.data[0]]).decode(),
    )


class GGUFTokenizer:
    """Our BPE encoder with a model's merges; ``encode`` returns the model's token ids."""

    def __init__(self, vocab: GGUFVocab) -> None:
        if vocab.pre not in PATTERNS:
            raise ValueError(f"pre-tokenizer {vocab.pre!r} is not supported (known: "
                             f"{', '.join(PATTERNS)})")  # fmt: skip
        to_char = byte_to_unicode()
        model_id = {token: i for i, token in enumerate(vocab.tokens)}
        ours = {to_char[b]: b for b in range(256)}  # token text -> our id
        pairs = []
        for rank, merge in enumerate(vocab.merges):
            left, right = merge.split(" ")
            pairs.append((ours[left], ours[right]))
            ours[left + right] = 256 + rank
        specials = [t for t, kind in zip(vocab.tokens, vocab.token_types, strict=True)
                    if kind in SPECIAL_TYPES]  # fmt: skip
        first_special = 256 + len(pairs)
        self.tokenizer = Tokenizer(
            pairs, {name: first_special + i for i, name in enumerate(specials)},
            PATTERNS[vocab.pre],
        )  # fmt: skip
        to_model = [0] * self.tokenizer.vocab_size
        for text, our_id in ours.items():
            to_model[our_id] = model_id[text]
        for name, our_id in self.tokenizer.special_tokens.items():
            to_model[our_id] = model_id[name]
        self.to_model = to_model
        self.from_model = {model: ours for ours, model in enumerate(to_model)}

    @classmethod
    def from_gguf(cls, path: Path) -> GGUFTokenizer:
        return cls(read_vocab(path))

    def encode(self, text: str) -> list[int]:
        return [self.to_model[i] for i in self.tokenizer.encode(text)]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode([self.from_model[i] for i in ids])
