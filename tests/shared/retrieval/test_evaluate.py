import math

import pytest

from shared.retrieval.evalsets.base import EvalQuery, EvalSet
from shared.retrieval.evaluate import (
    Evaluator,
    distinct_sources,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    to_markdown,
)
from shared.retrieval.types import Document


def test_metrics_by_hand():
    relevant = {"a": 3, "b": 1}
    ranked = ["x", "a", "y", "b"]
    assert recall_at_k(ranked, relevant, 2) == 0.5
    assert recall_at_k(ranked, relevant, 10) == 1.0
    assert reciprocal_rank(ranked, relevant) == 0.5
    dcg = (2**3 - 1) / math.log2(3) + (2**1 - 1) / math.log2(5)
    ideal = (2**3 - 1) / math.log2(2) + (2**1 - 1) / math.log2(3)
    assert ndcg_at_k(ranked, relevant) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "b"], relevant) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], relevant) == 0.0
    assert distinct_sources(["a", "b", "a", "c"]) == ["a", "b", "c"]


async def test_evaluator_end_to_end_on_a_small_set(store):
    docs = [
        Document("tent", "Two-person backpacking tent with a waterproof fly.", "Trail Tent"),
        Document("stove", "Gas camping stove that boils water in three minutes.", "Pocket Stove"),
        Document("socks", "Merino wool socks that stay warm when wet.", "Trek Socks"),
    ]
    queries = [
        EvalQuery("q1", "somewhere to sleep outdoors", {"tent": 3}),
        EvalQuery("q2", "boil water at camp", {"stove": 3}),
        EvalQuery("q3", "warm feet", {"socks": 2}),
    ]
    evalset = EvalSet("tiny", "three products", docs, queries)
    seen = []
    results = await Evaluator(store, progress=lambda stage, n: seen.append(stage)).run(
        evalset, ["full-text", "vector", "hybrid"]
    )
    by_config = {r.config: r for r in results}
    assert by_config["vector"].recall_at_10 == 1.0 and by_config["vector"].mrr >= 0.8
    assert by_config["full-text"].ndcg_at_10 < by_config["vector"].ndcg_at_10
    assert len(seen) == 9
    assert "| tiny | hybrid | 3 |" in to_markdown(results)
    with pytest.raises(ValueError, match="needs a reranker"):
        await Evaluator(store).run(evalset, ["hybrid+rerank"])
    with pytest.raises(ValueError, match="unknown configuration"):
        await Evaluator(store).run(evalset, ["magic"])
