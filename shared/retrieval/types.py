"""Plain data passed between loaders, splitters, the store and searches."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


def content_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Document:
    source: str  # stable id within a collection: a path, URL or SKU
    text: str
    title: str = ""
    url: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    tenant: str | None = None  # set by loaders that know it; the store checks it matches

    @property
    def hash(self) -> str:
        return content_hash(
            self.title,
            self.url or "",
            self.text,
            json.dumps(self.attributes, sort_keys=True, default=str),
        )


@dataclass(frozen=True)
class Chunk:
    source: str
    ordinal: int
    text: str
    title: str = ""
    start: int | None = None  # character span in the source document, for citations
    end: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return content_hash(self.title, self.text)


@dataclass(frozen=True)
class Hit:
    id: int
    source: str
    ordinal: int
    title: str
    text: str
    score: float
    start: int | None
    end: int | None
    metadata: dict[str, Any]
    vector_rank: int | None = None
    text_rank: int | None = None
    vector: Any = None  # the chunk's embedding, when asked for (MMR needs it)
