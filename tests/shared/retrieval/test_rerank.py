import pytest

from shared.config import Settings
from shared.models.embeddings import Embedder
from shared.models.registry import ArtifactRegistry, ModelNotInstalled, ModelRegistry
from shared.retrieval import ChunkStore, Document, RecursiveSplitter, RetrievalConfig, Retriever
from shared.retrieval.rerank import CrossEncoderReranker, RerankerNotPublished, default_reranker
from shared.retrieval.train_reranker import train_cross_encoder
from shared.retrieval.types import Hit

PASSAGES = {
    "tent": "Two-person backpacking tent with a waterproof fly and aluminium poles.",
    "jacket": "Waterproof shell jacket with taped seams and an adjustable hood.",
    "socks": "Merino wool hiking socks, cushioned heel, stay warm when wet.",
    "stove": "Compact gas camping stove that boils a litre of water in three minutes.",
    "lamp": "Rechargeable headlamp with 400 lumens and a red night mode.",
}
QUESTIONS = {
    "tent": ["shelter to sleep in on the trail", "somewhere to sleep outdoors for two"],
    "jacket": ["something to wear in heavy rain", "coat that keeps the rain out"],
    "socks": ["warm feet on long walks", "what to wear inside my boots"],
    "stove": ["how do I cook food at camp", "boil water in the backcountry"],
    "lamp": ["light for walking at night", "see in the dark at the campsite"],
}


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory, data_home):
    """Train a small cross-encoder from the packaged MiniLM: a few steps, on CPU."""
    base = ModelRegistry(Settings(data_home=data_home).models_dir).path("all-minilm-l6-v2")
    pairs = [(q, PASSAGES[key], 1.0) for key, qs in QUESTIONS.items() for q in qs[:1]]
    pairs += [(q, PASSAGES[other], 0.0) for key, qs in QUESTIONS.items() for q in qs[:1]
              for other in PASSAGES if other != key]  # fmt: skip
    done = []
    out = train_cross_encoder(
        pairs, base_dir=base, out_dir=tmp_path_factory.mktemp("tiny-reranker"), epochs=10,
        batch_size=8, learning_rate=1e-4, max_length=64, progress=done.append,
    )  # fmt: skip
    assert sum(done) == 10 * len(pairs)
    return out


def _hits(order):
    return [Hit(i, key, 0, key, PASSAGES[key], 0.0, 0, 10, {}) for i, key in enumerate(order)]


async def test_trained_cross_encoder_reranks_held_out_questions(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder)
    correct = 0
    for key, questions in QUESTIONS.items():
        adversarial = [k for k in PASSAGES if k != key] + [key]  # right answer retrieved last
        ranked = await reranker.rerank(questions[1], _hits(adversarial), k=3)
        correct += ranked[0].source == key
        assert ranked[0].score >= ranked[1].score >= ranked[2].score
    # Retrieval put the right passage last, so doing nothing scores 0 of 5.
    assert correct >= 3


async def test_reranker_loads_published_artifact_by_name(tiny_cross_encoder, tmp_path):
    registry = ArtifactRegistry(tmp_path / "models")
    registry.publish("tiny-reranker", tiny_cross_encoder, kind="reranker", license="Apache-2.0")
    assert registry.names() == ["tiny-reranker"]
    reranker = CrossEncoderReranker("tiny-reranker", models_dir=tmp_path / "models")
    ranked = await reranker.rerank(QUESTIONS["lamp"][0], _hits(list(PASSAGES)), k=1)
    assert ranked[0].source == "lamp"
    with pytest.raises(ModelNotInstalled, match="no published model 'nope'"):
        CrossEncoderReranker("nope", models_dir=tmp_path / "models")


def test_default_reranker_says_how_to_train_it_when_unpublished(tmp_path):
    with pytest.raises(RerankerNotPublished, match="`ascent learn reranker`"):
        default_reranker(Settings(data_home=tmp_path))


def test_default_reranker_is_the_published_settings_model(tiny_cross_encoder, tmp_path):
    settings = Settings(data_home=tmp_path)
    ArtifactRegistry(settings.models_dir).publish(
        settings.reranker_model, tiny_cross_encoder, kind="reranker", license="Apache-2.0"
    )
    reranker = default_reranker(settings)
    assert reranker.path == settings.models_dir / "published" / "reranker-jeopardy"
    assert default_reranker(Settings(data_home=tmp_path)) is reranker  # the weights load once


async def test_retriever_reranks_with_the_default_when_none_is_passed(
    pool, settings, tiny_cross_encoder
):
    # reranker_model may name a folder as well as a published model.
    settings = settings.model_copy(update={"reranker_model": str(tiny_cross_encoder)})
    store = ChunkStore(pool, Embedder(settings))
    docs = [Document(key, text, key) for key, text in PASSAGES.items()]
    await store.ingest("acme", docs, RecursiveSplitter())
    config = RetrievalConfig(k=3, rerank=True, rerank_weight=1.0)
    retriever = Retriever(store, "acme", config=config)
    hits = await retriever.retrieve(QUESTIONS["lamp"][0])
    assert isinstance(retriever.reranker, CrossEncoderReranker)
    assert retriever.reranker.path == tiny_cross_encoder
    assert hits[0].source == "lamp"
    assert hits[0].score >= hits[1].score >= hits[2].score
