"""Splitters: exact character spans, token limits, header metadata and sentence offsets."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from langchain_text_splitters import RecursiveCharacterTextSplitter

from shared.config import Settings
from shared.retrieval.loaders import load_html
from shared.retrieval.splitters import (
    HTMLHeaderSplitter,
    MarkdownHeaderSplitter,
    RecursiveSplitter,
    SentenceSplitter,
    TokenSplitter,
    embedding_tokenizer,
    sentence_spans,
)
from shared.retrieval.types import Chunk, Document


def check_spans(doc: Document, chunks: list[Chunk]) -> None:
    assert chunks, "expected chunks"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.start is not None and chunk.end is not None
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.source == doc.source and chunk.title == doc.title
        assert {k: chunk.metadata[k] for k in doc.attributes} == doc.attributes
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)


def uncovered(doc: Document, chunks: list[Chunk]) -> str:
    """Non-space characters of the document that no chunk covers."""
    covered = [False] * len(doc.text)
    for chunk in chunks:
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    return "".join(c for c, hit in zip(doc.text, covered, strict=True) if not (hit or c.isspace()))


PROSE = (
    "Retrieval systems split documents into chunks. Each chunk keeps its character span, "
    "so answers can cite the exact passage. "
) * 12


def test_recursive_splitter_still_exact() -> None:
    doc = Document(source="s", text=PROSE, title="T", attributes={"lang": "en"})
    chunks = RecursiveSplitter(chunk_size=200, chunk_overlap=20)(doc)
    check_spans(doc, chunks)
    assert len(chunks) > 3 and all(len(c.text) <= 200 for c in chunks)


# --- tokens -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer(data_home: Path):
    return embedding_tokenizer(Settings(data_home=data_home))


TOKEN_TEXT = (
    "# Setup\n\nInstall the package with pip, then run `ascent up`. It weighs 3.5 kg (really).\n\n"
    + PROSE
    + "\n\nA long identifier: "
    + "x7Gq" * 150
    + " and a URL https://example.com/"
    + "/".join(f"segment{i}" for i in range(60))
    + "\n\n日本語のテキストも分割されます。" * 5
    + "\nÉmile's café serves crème brûlée; naïve façades!"
)


def test_token_splitter_respects_token_limit(tokenizer) -> None:
    doc = Document(source="d", text=TOKEN_TEXT, title="Guide", attributes={"k": 1})
    splitter = TokenSplitter(chunk_tokens=32, overlap_tokens=8, tokenizer=tokenizer)
    chunks = splitter(doc)
    check_spans(doc, chunks)
    counts = [len(tokenizer.tokenize(c.text)) for c in chunks]
    assert max(counts) <= 32
    assert [c.metadata["tokens"] for c in chunks] == counts
    assert len(chunks) > 10
    assert uncovered(doc, chunks) == ""
    # Overlap: consecutive chunks share text somewhere.
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_token_splitter_cuts_pieces_that_overflow(tokenizer) -> None:
    """The guard behind langchain: even a piece far over the limit is cut to fit."""
    doc = Document(source="d", text=PROSE)
    splitter = TokenSplitter(chunk_tokens=20, overlap_tokens=0, tokenizer=tokenizer)
    splitter._splitter = RecursiveCharacterTextSplitter(chunk_size=100_000, chunk_overlap=0)
    chunks = splitter(doc)
    check_spans(doc, chunks)
    assert len(chunks) > 5
    assert max(len(tokenizer.tokenize(c.text)) for c in chunks) <= 20
    assert uncovered(doc, chunks) == ""


def test_token_splitter_loads_tokenizer_from_settings(data_home: Path) -> None:
    splitter = TokenSplitter(
        chunk_tokens=64, overlap_tokens=0, settings=Settings(data_home=data_home)
    )
    assert splitter.count_tokens("hello world") == 2
    assert splitter(Document(source="e", text="  \n ")) == []


# --- Markdown / HTML headers --------------------------------------------------------------------

MARKDOWN = """Preamble text.

# Install

Intro to install.

## Linux

Run the script:

```sh
# not a header
./install.sh
```

## macOS

Use brew.

# Usage

Install is easy. Start the app.
"""


def test_markdown_header_splitter_metadata_and_offsets() -> None:
    doc = Document(source="readme", text=MARKDOWN, title="Readme", attributes={"format": "md"})
    chunks = MarkdownHeaderSplitter()(doc)
    check_spans(doc, chunks)
    got = [(c.text, c.metadata["headers"], c.metadata["section"]) for c in chunks]
    assert got == [
        ("Preamble text.", {}, ""),
        ("Intro to install.", {"h1": "Install"}, "Install"),
        ("Run the script:", {"h1": "Install", "h2": "Linux"}, "Install > Linux"),
        (
            "```sh\n# not a header\n./install.sh\n```",
            {"h1": "Install", "h2": "Linux"},
            "Install > Linux",
        ),
        ("Use brew.", {"h1": "Install", "h2": "macOS"}, "Install > macOS"),
        ("Install is easy. Start the app.", {"h1": "Usage"}, "Usage"),
    ]
    # Section text equal to its own header must not be placed on the header line.
    doc = Document(source="x", text="# Intro\nIntro\n")
    [chunk] = MarkdownHeaderSplitter()(doc)
    assert (chunk.start, chunk.end) == (8, 13)


def test_markdown_long_sections_are_split_further() -> None:
    text = "# Guide\n\n## Details\n\n" + PROSE + "\n\n## End\n\nBye."
    doc = Document(source="g", text=text)
    chunks = MarkdownHeaderSplitter(max_chars=300, overlap_chars=0)(doc)
    check_spans(doc, chunks)
    details = [c for c in chunks if c.metadata["section"] == "Guide > Details"]
    assert len(details) >= 4 and all(len(c.text) <= 300 for c in details)
    assert chunks[-1].text == "Bye." and chunks[-1].metadata["headers"] == {
        "h1": "Guide",
        "h2": "End",
    }
    assert uncovered(doc, chunks) == "#Guide##Details##End"


def test_markdown_unclosed_fence_keeps_text() -> None:
    text = "# A\n\nBefore.\n\n```python\nprint('open fence')\n# still code"
    doc = Document(source="u", text=text)
    chunks = MarkdownHeaderSplitter()(doc)
    check_spans(doc, chunks)
    assert [c.text for c in chunks] == ["Before.", "```python\nprint('open fence')\n# still code"]


def test_html_header_splitter_on_loaded_html(tmp_path: Path) -> None:
    page = tmp_path / "doc.html"
    page.write_text(
        "<title>Docs</title><h1>API</h1><p>Overview.</p><h2>Auth</h2><p>Use tokens.</p>"
        "<pre># shell comment\ncurl -H 'x'</pre><h2>Limits</h2><p>100 per minute.</p>"
    )
    doc = load_html(page)
    chunks = HTMLHeaderSplitter()(doc)
    check_spans(doc, chunks)
    assert [(c.metadata["section"], c.text) for c in chunks] == [
        ("API", "Overview."),
        ("API > Auth", "Use tokens."),
        ("API > Auth", "```\n# shell comment\ncurl -H 'x'\n```"),
        ("API > Limits", "100 per minute."),
    ]
    assert all(c.metadata["format"] == "html" and c.title == "Docs" for c in chunks)


# --- sentences ----------------------------------------------------------------------------------


def texts(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentence_spans_abbreviations_and_decimals() -> None:
    text = "Mr. Smith bought 3.5 kg of apples. He paid $4.20! Was it worth it? Yes."
    assert sentence_spans(text) == [(0, 34), (35, 49), (50, 66), (67, 71)]
    assert texts(text) == [
        "Mr. Smith bought 3.5 kg of apples.",
        "He paid $4.20!",
        "Was it worth it?",
        "Yes.",
    ]


def test_sentence_spans_repeats_paragraphs_and_whitespace() -> None:
    assert sentence_spans("Hi. Hi. Hi.") == [(0, 3), (4, 7), (8, 11)]
    text = "  Intro line e.g. this one. Next one\n\n\nNew paragraph without stop\n  \n"
    assert texts(text) == ["Intro line e.g. this one.", "Next one", "New paragraph without stop"]
    assert sentence_spans("") == [] and sentence_spans(" \n ") == []
    # pysbd places the repeated "b. b" inside "ab."; boundaries must not split a word.
    assert texts("ab. b. b a. b. no") == ["ab. b. b", "a.", "b. no"]


def test_sentence_splitter_groups_sentences() -> None:
    sentences = [f"Sentence number {i} talks about item {i}." for i in range(12)]
    doc = Document(source="s", text=" ".join(sentences), title="S", attributes={"a": 1})
    chunks = SentenceSplitter(max_chars=130)(doc)
    check_spans(doc, chunks)
    assert all(len(c.text) <= 130 for c in chunks)
    assert len(chunks) >= 4
    # Sentence indices run contiguously from 0 to the last sentence.
    indices = [(c.metadata["sentence_start"], c.metadata["sentence_end"]) for c in chunks]
    assert indices[0][0] == 0 and indices[-1][1] == len(sentences) - 1
    for (_, end), (start, _) in itertools.pairwise(indices):
        assert start == end + 1
    spans = sentence_spans(doc.text)
    for chunk, (first, last) in zip(chunks, indices, strict=True):
        assert chunk.start == spans[first][0] and chunk.end == spans[last][1]


def test_sentence_splitter_cuts_overlong_sentence() -> None:
    text = "Short one. " + "This sentence goes on " * 20 + "and ends. Tail."
    doc = Document(source="l", text=text)
    chunks = SentenceSplitter(max_chars=100)(doc)
    check_spans(doc, chunks)
    assert all(len(c.text) <= 100 for c in chunks)
    long_parts = [c for c in chunks if c.metadata["sentence_start"] == 1]
    assert len(long_parts) >= 4 and all(c.metadata["sentence_end"] == 1 for c in long_parts)
    assert chunks[-1].text == "Tail." and uncovered(doc, chunks) == ""
