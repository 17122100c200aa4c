"""Splitters that keep each chunk's character span in its source, for citations.

Every splitter returns chunks with ``doc.text[chunk.start:chunk.end] == chunk.text``, ordinals
0..n-1, ``title=doc.title`` and ``metadata=dict(doc.attributes)`` plus its own keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pysbd
from langchain_text_splitters import (
    ExperimentalMarkdownSyntaxTextSplitter,
    RecursiveCharacterTextSplitter,
)

from shared.retrieval.types import Chunk, Document

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from shared.config import Settings

_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


class RecursiveSplitter:
    """Paragraph → sentence → word splitting (langchain-text-splitters) with offsets."""

    def __init__(self, chunk_size: int = 800, chunk_overlap: int = 100) -> None:
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            add_start_index=True,
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
            keep_separator="end",
        )

    def __call__(self, doc: Document) -> list[Chunk]:
        if not doc.text.strip():
            return []
        pieces = self._splitter.create_documents([doc.text])
        chunks = []
        for ordinal, piece in enumerate(pieces):
            start = piece.metadata["start_index"]
            text = piece.page_content
            chunks.append(
                Chunk(
                    source=doc.source,
                    ordinal=ordinal,
                    text=text,
                    title=doc.title,
                    start=start,
                    end=start + len(text),
                    metadata=dict(doc.attributes),
                )
            )
        return chunks


# A span of doc.text plus the splitter's metadata for it.
_Span = tuple[int, int, dict[str, Any]]


def _chunks(doc: Document, spans: list[_Span]) -> list[Chunk]:
    return [
        Chunk(
            source=doc.source,
            ordinal=ordinal,
            text=doc.text[start:end],
            title=doc.title,
            start=start,
            end=end,
            metadata={**doc.attributes, **extra},
        )
        for ordinal, (start, end, extra) in enumerate(spans)
    ]


def _locate(
    text: str, pieces: list[str], start: int = 0, overlap: int | Callable[[str], int] = 0
) -> list[tuple[int, int]]:
    """Spans of ``pieces`` (substrings of ``text``, in order) found with a moving cursor.

    ``overlap`` bounds how many trailing characters of a piece the next one may share (a
    number, or a function of the piece). The next search starts there, which pins repeated
    text to the right occurrence. langchain's own ``start_index`` assumes the overlap is in
    characters, which is wrong for token lengths, so offsets are found here instead.
    """
    spans: list[tuple[int, int]] = []
    floor = start
    for piece in pieces:
        at = text.find(piece, floor)
        if at < 0 and spans:  # the overlap bound was too tight (token counts that don't add up)
            at = text.find(piece, spans[-1][0] + 1)
        if at < 0:
            raise ValueError(f"split piece not found in the document text: {piece[:60]!r}")
        end = at + len(piece)
        spans.append((at, end))
        floor = max(at + 1, end - (overlap(piece) if callable(overlap) else overlap))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# ---------------------------------------------------------------------------------------------
# Tokens


@lru_cache(maxsize=4)
def _load_tokenizer(path: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def embedding_tokenizer(settings: Settings | None = None) -> PreTrainedTokenizerBase:
    """The embedding model's tokenizer, from its packaged folder (never the hub)."""
    from shared.config import Settings
    from shared.models.registry import ModelRegistry

    settings = settings or Settings()
    path = ModelRegistry(settings.models_dir).path(settings.embedding_model)
    return _load_tokenizer(str(path))


class TokenSplitter:
    """Chunks of at most ``chunk_tokens`` tokens of the embedder's tokenizer.

    Counts exclude the special tokens the model adds ([CLS]/[SEP] for MiniLM).
    """

    def __init__(
        self,
        chunk_tokens: int = 256,
        overlap_tokens: int = 32,
        tokenizer: PreTrainedTokenizerBase | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens
        self.tokenizer = tokenizer if tokenizer is not None else embedding_tokenizer(settings)
        self._splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            self.tokenizer,
            chunk_size=chunk_tokens,
            chunk_overlap=overlap_tokens,
            separators=_SEPARATORS,
            keep_separator="end",
        )

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.tokenize(text))

    def __call__(self, doc: Document) -> list[Chunk]:
        if not doc.text.strip():
            return []
        pieces = self._splitter.split_text(doc.text)
        spans: list[_Span] = []
        for start, end in _locate(doc.text, pieces, overlap=self._overlap_chars):
            for s, e in self._fit(doc.text, start, end):
                spans.append((s, e, {"tokens": self.count_tokens(doc.text[s:e])}))
        return _chunks(doc, spans)

    def _overlap_chars(self, piece: str) -> int:
        """Characters taken by the last ``overlap_tokens`` tokens of ``piece``: the most the next
        chunk can share with it."""
        if not self.overlap_tokens:
            return 0
        if not getattr(self.tokenizer, "is_fast", False):  # no offsets: any overlap possible
            return len(piece)
        encoded = self.tokenizer(piece, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        if len(offsets) <= self.overlap_tokens:
            return len(piece)
        return len(piece) - offsets[-self.overlap_tokens][0]

    def _fit(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Cut a span until each part fits: langchain sums the token counts of the pieces it
        merges, and for some tokenizers a merged text counts more than its pieces did."""
        out = []
        while start < end:
            if self.count_tokens(text[start:end]) <= self.chunk_tokens:
                out.append((start, end))
                break
            lo, hi = start + 1, end - 1  # the longest prefix that fits
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.count_tokens(text[start:mid]) <= self.chunk_tokens:
                    lo = mid
                else:
                    hi = mid - 1
            space = text.rfind(" ", start + 1, lo + 1)
            cut = space if space > start + (lo - start) // 2 else lo  # prefer a word boundary
            out.append(_trim(text, start, cut))
            start, end = _trim(text, cut, end)
        return [(s, e) for s, e in out if s < e]


# ---------------------------------------------------------------------------------------------
# Markdown (and HTML converted by the loader) by headers

_HEADER_KEYS = [(f"{'#' * level}", f"h{level}") for level in range(1, 7)]
_FENCE_LINE = re.compile(r"^(```|~~~)", re.MULTILINE)
_CLOSE_FENCE = "\n```\n"


def _find_lines(text: str, lines: str, cursor: int) -> tuple[int, int]:
    """Span of ``lines`` (whole lines of ``text``) at or after ``cursor``; anchoring at a line
    start keeps a section "Intro" from matching inside its own header line "# Intro"."""
    at = text.find(lines, cursor)
    while at > 0 and text[at - 1] != "\n":
        at = text.find(lines, at + 1)
    if at < 0:
        raise ValueError(f"section not found in the document text: {lines[:60]!r}")
    return at, at + len(lines)


class MarkdownHeaderSplitter:
    """One chunk per section under ATX headers (``#`` … ``######``); long sections are split
    further (paragraph → sentence → word). Header lines themselves are not in the chunks:
    ``metadata["headers"]`` ({"h1": "Install", "h2": "Linux"}) and ``metadata["section"]``
    ("Install > Linux") carry them. Fenced code blocks are their own chunks, and ``#`` lines
    inside them are not headers."""

    def __init__(self, max_chars: int = 1500, overlap_chars: int = 150) -> None:
        self.max_chars = max_chars
        self.overlap_chars = overlap_chars
        self._recursive = RecursiveCharacterTextSplitter(
            chunk_size=max_chars,
            chunk_overlap=overlap_chars,
            separators=_SEPARATORS,
            keep_separator="end",
        )

    def __call__(self, doc: Document) -> list[Chunk]:
        text = doc.text
        if not text.strip():
            return []
        # The structure parser keeps exact whitespace, but drops everything after an unclosed
        # code fence; close it for parsing and cut the added fence off again below.
        closing = _CLOSE_FENCE if len(_FENCE_LINE.findall(text)) % 2 else ""
        parser = ExperimentalMarkdownSyntaxTextSplitter(headers_to_split_on=_HEADER_KEYS)
        spans: list[_Span] = []
        cursor = 0
        for piece in parser.split_text(text + closing):
            body = piece.page_content
            if closing and body.endswith(closing):
                body = body[: -len(closing)]
            if not body.strip():
                continue
            start, cursor = _trim(text, *_find_lines(text, body, cursor))
            headers = {
                key: piece.metadata[key].strip() for _, key in _HEADER_KEYS if key in piece.metadata
            }
            extra = {"headers": headers, "section": " > ".join(headers.values())}
            for s, e in self._split(text, start, cursor):
                spans.append((s, e, extra))
        return _chunks(doc, spans)

    def _split(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        if end - start <= self.max_chars:
            return [(start, end)]
        pieces = self._recursive.split_text(text[start:end])
        return [
            (start + s, start + e)
            for s, e in _locate(text[start:end], pieces, overlap=self.overlap_chars)
        ]


class HTMLHeaderSplitter(MarkdownHeaderSplitter):
    """Header-aware splitting for Documents from ``load_html``.

    The HTML loader already writes headings as ``#`` lines and ``<pre>`` as fenced code, so this
    is the Markdown splitter under a name that says what it is for. It does not parse tags:
    give it loader output, not raw HTML.
    """


# ---------------------------------------------------------------------------------------------
# Sentences

_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``, whitespace trimmed, in order, covering every
    non-space character. Sentences never cross a blank line.

    pysbd finds the boundaries; its spans are reduced to start positions (so a sentence it
    cannot place merges with the previous one rather than vanishing). Paragraphs are segmented
    one by one because pysbd's span lookup rescans the whole text for every sentence.
    """
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    blocks = []
    previous = 0
    for gap in _BLANK_LINES.finditer(text):
        blocks.append((previous, gap.start()))
        previous = gap.end()
    blocks.append((previous, len(text)))
    spans: list[tuple[int, int]] = []
    for block_start, block_end in blocks:
        block = text[block_start:block_end]
        if not block.strip():
            continue
        # A true boundary follows whitespace; pysbd can place a repeated sentence mid-word.
        cuts = sorted(
            {0}
            | {
                span.start
                for span in segmenter.segment(block)
                if 0 < span.start < len(block) and block[span.start - 1].isspace()
            }
        )
        for a, b in zip(cuts, [*cuts[1:], len(block)], strict=True):
            s, e = _trim(text, block_start + a, block_start + b)
            if s < e:
                spans.append((s, e))
    return spans


class SentenceSplitter:
    """Consecutive sentences grouped into chunks of up to ``max_chars`` characters.

    ``metadata["sentence_start"]``/``["sentence_end"]`` index the first and last sentence of
    ``sentence_spans(doc.text)`` in the chunk (a sentence longer than ``max_chars`` is cut into
    several chunks that share its index).
    """

    def __init__(self, max_chars: int = 600) -> None:
        self.max_chars = max_chars
        self._recursive = RecursiveCharacterTextSplitter(
            chunk_size=max_chars, chunk_overlap=0, separators=_SEPARATORS, keep_separator="end"
        )

    def __call__(self, doc: Document) -> list[Chunk]:
        sentences = sentence_spans(doc.text)
        spans: list[_Span] = []
        first = 0
        while first < len(sentences):
            start, end = sentences[first]
            last = first
            while last + 1 < len(sentences) and sentences[last + 1][1] - start <= self.max_chars:
                last += 1
            end = sentences[last][1]
            extra = {"sentence_start": first, "sentence_end": last}
            if end - start <= self.max_chars:
                spans.append((start, end, extra))
            else:
                pieces = self._recursive.split_text(doc.text[start:end])
                for s, e in _locate(doc.text, pieces, start):
                    spans.append((s, e, extra))
            first = last + 1
        return _chunks(doc, spans)
