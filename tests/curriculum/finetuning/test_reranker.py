"""The reranker recipe end to end on a tiny slice: hard negatives mined through the real
hybrid search (embedded Postgres + pgvector), a few listwise steps from the real MiniLM
weights, and a better ranking of the mined candidates than the untrained start."""

import pytest

from curriculum.finetuning.reranker.evaluation import CachedReranker, reduced
from shared.config import Settings
from shared.models.embeddings import Embedder
from shared.models.registry import ModelRegistry
from shared.retrieval.evalsets.jeopardy import training_set
from shared.retrieval.evaluate import ndcg_at_k
from shared.retrieval.hard_negatives import mine
from shared.retrieval.rerank import CrossEncoderReranker
from shared.retrieval.store import ChunkStore
from shared.retrieval.train_reranker import GroupTrainConfig, save_untrained, train_groups
from shared.retrieval.types import Hit

pytestmark = pytest.mark.slow


@pytest.fixture
def store(pool, settings):
    return ChunkStore(pool, Embedder(settings))


async def _mean_ndcg(reranker, groups) -> float:
    """nDCG@10 of the positive among each group's candidates (positive listed last)."""
    total = 0.0
    for group in groups:
        texts = [*group.negatives, group.positive]
        hits = [Hit(i, f"d{i}", 0, "", t, 0.0, 0, len(t), {}) for i, t in enumerate(texts)]
        ranked = await reranker.rerank(group.query, hits, len(hits))
        total += ndcg_at_k([h.source for h in ranked], {f"d{len(texts) - 1}": 1})
    return total / len(groups)


async def test_hard_negative_training_beats_the_untrained_start(store, data_home, tmp_path):
    data = reduced(training_set(), queries=8, documents=60)
    groups, stats = await mine(store, "mining", data, depth=10, negatives=3)
    assert stats.queries == 8 and len(groups) >= 6
    relevant = {q.text: next(iter(q.relevance)) for q in data.queries}
    docs = {d.source: d.text for d in data.documents}
    for group in groups:
        assert 1 <= len(group.negatives) <= 3
        assert group.positive == docs[relevant[group.query]]
        assert group.positive not in group.negatives  # mined negatives are never the answer

    base = ModelRegistry(Settings(data_home=data_home).models_dir).path("all-minilm-l6-v2")
    config = GroupTrainConfig(epochs=3, groups_per_batch=4, negatives=3, learning_rate=2e-4,
                              warmup=0.2, max_length=64)  # fmt: skip
    history = train_groups(groups, base_dir=base, out_dir=tmp_path / "trained", config=config)
    assert len(history) == 3 * -(-len(groups) // 4)
    untrained = save_untrained(base, tmp_path / "step0", seed=config.seed)

    before = await _mean_ndcg(CachedReranker(CrossEncoderReranker(untrained)), groups)
    after = await _mean_ndcg(CrossEncoderReranker(tmp_path / "trained"), groups)
    assert after > before + 0.1, (before, after)
