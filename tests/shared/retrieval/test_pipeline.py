import numpy as np
import pytest

from shared.retrieval.chain import check_citations, strip_invalid
from shared.retrieval.context import Passage, build_context, estimate_tokens, merge_adjacent
from shared.retrieval.mmr import mmr
from shared.retrieval.retriever import rrf_fuse
from shared.retrieval.types import Document, Hit


def _hit(i, vector=None, source="doc", start=0, end=10, score=1.0, text="t"):
    return Hit(i, source, i, "T", text, score, start, end, {}, vector=vector)


def test_mmr_pushes_near_duplicates_down():
    q = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    a = np.array([0.95, 0.31, 0.0])
    dup = a + np.array([0.0, 0.0, 0.01])
    other = np.array([0.8, 0.0, 0.6])
    hits = [_hit(1, a / np.linalg.norm(a)), _hit(2, dup / np.linalg.norm(dup)),
            _hit(3, other / np.linalg.norm(other))]  # fmt: skip
    assert [h.id for h in mmr(q, hits, 3, lambda_=1.0)] == [1, 2, 3]
    assert [h.id for h in mmr(q, hits, 2, lambda_=0.5)] == [1, 3]
    with pytest.raises(ValueError, match="with_vectors"):
        mmr(q, [_hit(1)], 1)


def test_rrf_fuse_rewards_agreement():
    a, b, c = _hit(1), _hit(2), _hit(3)
    fused = rrf_fuse([[a, b, c], [b, c], [b]], k=3)
    assert [h.id for h in fused] == [2, 3, 1]
    assert fused[0].score == pytest.approx(1 / 62 + 2 / 61)


def test_merge_adjacent_and_budgeted_context():
    doc = Document("d", "First sentence here. Second one follows. Third closes it.", "Doc")
    p1 = Passage("d", "Doc", doc.text[0:20], 0, 20, 0.9, hit_ids=(1,))
    p2 = Passage("d", "Doc", doc.text[21:40], 21, 40, 0.5, hit_ids=(2,))
    other = Passage("e", "Other", "Elsewhere.", 0, 10, 0.7, hit_ids=(3,))
    merged = merge_adjacent([p1, other, p2], {"d": doc})
    assert [(m.source, m.start, m.end) for m in merged] == [("d", 0, 40), ("e", 0, 10)]
    assert merged[0].text == doc.text[0:40] and merged[0].hit_ids == (1, 2)
    assert merged[0].score == 0.9

    context, kept = build_context(merged, budget_tokens=1000)
    assert (
        context.startswith("[1] Doc (d, chars 0-40)\n") and "[2] Other (e, chars 0-10)" in context
    )
    long = Passage("x", "X", "word. " * 400, 0, 2400, 0.1)
    context, kept = build_context([*merged, long], budget_tokens=250)
    assert estimate_tokens(context) <= 255
    assert len(kept) == 3 and kept[2].end < 2400  # the last passage was cut, not dropped


def test_citation_check():
    cited, invalid = check_citations("Tents [2] are dry [1][2]; socks [7].", 3)
    assert cited == [2, 1] and invalid == [7]
    assert strip_invalid("Socks [7] and tents [2].", [7]) == "Socks  and tents [2]."


def test_fuse_rerank_balances_reranker_and_retrieval():
    from shared.retrieval.retriever import fuse_rerank

    retrieved = [_hit(1), _hit(2), _hit(3)]
    reranked = [_hit(3), _hit(2), _hit(1)]
    assert [h.id for h in fuse_rerank(retrieved, reranked, 1.0)] == [3, 2, 1]
    assert [h.id for h in fuse_rerank(retrieved, reranked, 0.0)] == [1, 2, 3]
    balanced = fuse_rerank(retrieved, [_hit(2), _hit(1), _hit(3)], 0.5)
    assert [h.id for h in balanced][:2] in ([1, 2], [2, 1])
    assert balanced[-1].id == 3
