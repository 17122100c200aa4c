"""Retrieval: load → split → store in PostgreSQL + pgvector → hybrid, tenant-scoped search →
rerank → context windows → cited answers. See README "Retrieval"."""

from shared.retrieval.chain import Answer, AnswerChain
from shared.retrieval.filters import FilterError
from shared.retrieval.loaders import BadInput, LoadError, LoadReport, load_path, load_paths
from shared.retrieval.rerank import CrossEncoderReranker, LLMReranker, Reranker
from shared.retrieval.retriever import RetrievalConfig, Retriever
from shared.retrieval.splitters import (
    HTMLHeaderSplitter,
    MarkdownHeaderSplitter,
    RecursiveSplitter,
    SentenceSplitter,
    TokenSplitter,
)
from shared.retrieval.store import ChunkStore, IngestStats
from shared.retrieval.types import Chunk, Document, Hit

__all__ = [
    "Answer",
    "AnswerChain",
    "BadInput",
    "Chunk",
    "ChunkStore",
    "CrossEncoderReranker",
    "Document",
    "FilterError",
    "HTMLHeaderSplitter",
    "Hit",
    "IngestStats",
    "LLMReranker",
    "LoadError",
    "LoadReport",
    "MarkdownHeaderSplitter",
    "RecursiveSplitter",
    "Reranker",
    "RetrievalConfig",
    "Retriever",
    "SentenceSplitter",
    "TokenSplitter",
    "load_path",
    "load_paths",
]
