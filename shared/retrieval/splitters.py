"""Splitters that keep each chunk's character span in its source, for citations."""

from __future__ import annotations

from langchain_text_splitters import RecursiveCharacterTextSplitter

from shared.retrieval.types import Chunk, Document


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
