import pytest

from shared.models.embeddings import Embedder
from shared.retrieval import ChunkStore


@pytest.fixture
async def store(pool, settings):
    return ChunkStore(pool, Embedder(settings))
