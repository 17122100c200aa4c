"""Retrieval: documents → chunks → PostgreSQL + pgvector → hybrid, tenant-scoped search."""

from shared.retrieval.filters import FilterError
from shared.retrieval.splitters import RecursiveSplitter
from shared.retrieval.store import ChunkStore, IngestStats
from shared.retrieval.types import Chunk, Document, Hit

__all__ = [
    "Chunk",
    "ChunkStore",
    "Document",
    "FilterError",
    "Hit",
    "IngestStats",
    "RecursiveSplitter",
]
