"""Sentence embeddings from the packaged MiniLM, batched, with an on-disk cache.

The cache is keyed by the sha256 of (model, text), so re-ingesting unchanged content costs
a lookup instead of a forward pass. SQLite keeps it safe across processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from shared.config import Settings
from shared.models.registry import ModelRegistry, get_model

DIMENSIONS = 384


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB)")
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        return found

    def put_many(self, items: dict[bytes, np.ndarray]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                [(k, v.astype(np.float32).tobytes()) for k, v in items.items()],
            )


class _TorchEncoder:
    """sentence-transformers on PyTorch: the reference the ONNX encoder is checked against."""

    def __init__(self, path) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)  # fmt: skip


class Embedder:
    """Turns texts into unit-length float32 vectors (cosine similarity = dot product)."""

    def __init__(self, settings: Settings, *, model: str | None = None, cache: bool = True) -> None:
        self.settings = settings
        self.model_name = model or settings.embedding_model
        if get_model(self.model_name).kind != "embedding":
            raise ValueError(f"{self.model_name!r} is not an embedding model")
        self.batch_size = settings.embedding_batch_size
        self.dimensions = DIMENSIONS
        self._model = None
        self._load_lock = threading.Lock()
        self._cache = (
            EmbeddingCache(settings.cache_dir / f"embeddings-{self.model_name}.sqlite")
            if cache
            else None
        )

    def _load(self):
        with self._load_lock:
            if self._model is None:
                path = ModelRegistry(self.settings.models_dir).path(self.model_name)
                backend = self.settings.embedding_backend
                if backend in ("onnx", "onnx-int8"):
                    from shared.models.onnx_encoder import OnnxSentenceEncoder

                    self._model = OnnxSentenceEncoder(path, quantized=backend == "onnx-int8")
                else:
                    self._model = _TorchEncoder(path)
        return self._model

    def _key(self, text: str) -> bytes:
        # int8 vectors differ slightly from float ones, so they are cached apart.
        variant = "int8" if self.settings.embedding_backend == "onnx-int8" else ""
        return hashlib.sha256(f"{self.model_name}{variant}\0{text}".encode()).digest()

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed ``texts`` in order; ``progress`` gets the count done per group of batches."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        cached = self._cache.get_many(keys) if self._cache else {}
        # Deduplicate (identical texts are embedded once), then order by length so that each
        # batch pads to similar lengths: padding is most of the cost with mixed lengths.
        unique: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k not in cached:
                unique.setdefault(k, i)
        unique = dict(sorted(unique.items(), key=lambda item: len(texts[item[1]])))
        fresh: dict[bytes, np.ndarray] = {}
        if unique:
            model = self._load()
            items = list(unique.items())
            # Hand the encoder many batches at a time; report progress between them.
            step = self.batch_size * 8
            for start in range(0, len(items), step):
                batch = items[start : start + step]
                vectors = model.encode([texts[i] for _, i in batch], self.batch_size)
                fresh.update(
                    {k: v.astype(np.float32) for (k, _), v in zip(batch, vectors, strict=True)}
                )
                if progress:
                    progress(len(batch))
            if self._cache:
                self._cache.put_many(fresh)
        if progress and len(texts) > len(unique):
            progress(len(texts) - len(unique))
        return np.stack([cached.get(k) if k in cached else fresh[k] for k in keys])

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)
