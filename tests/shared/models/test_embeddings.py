import uuid

import numpy as np

from shared.config import Settings
from shared.models.embeddings import Embedder


def test_embeddings_are_normalised_and_semantic(data_home):
    embedder = Embedder(Settings(data_home=data_home), cache=False)
    texts = ["waterproof rain jacket", "a coat that keeps you dry in a storm", "espresso machine"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_cache_returns_same_vectors_without_loading_the_model(data_home):
    settings = Settings(data_home=data_home)
    tag = uuid.uuid4().hex  # texts never embedded before
    texts = [f"hiking boots {tag}", f"tent for two {tag}", f"hiking boots {tag}"]
    done = []
    vectors = Embedder(settings).embed(texts, progress=done.append)
    assert sum(done) == 3
    second = Embedder(settings)
    again = second.embed(texts)
    assert second._model is None  # every vector came from the on-disk cache
    assert np.array_equal(vectors, again)
    assert np.array_equal(vectors[0], vectors[2])


def test_empty_input(data_home):
    assert Embedder(Settings(data_home=data_home), cache=False).embed([]).shape == (0, 384)


def test_onnx_and_torch_backends_agree(data_home):
    texts = ["waterproof rain jacket", "a coat that keeps you dry", "espresso machine " * 60]
    onnx = Embedder(Settings(data_home=data_home, embedding_backend="onnx"), cache=False)
    torch = Embedder(Settings(data_home=data_home, embedding_backend="torch"), cache=False)
    a, b = onnx.embed(texts), torch.embed(texts)
    assert np.min(np.sum(a * b, axis=1)) > 0.9999  # long text truncated the same way too
    exported = data_home / "models" / "all-minilm-l6-v2" / "onnx" / "model.onnx"
    mtime = exported.stat().st_mtime
    Embedder(Settings(data_home=data_home, embedding_backend="onnx"), cache=False).embed(["x"])
    assert exported.stat().st_mtime == mtime  # exported once, then reused


def test_int8_backend_is_close_to_float_and_cached_apart(data_home):
    texts = ["waterproof rain jacket", "a coat that keeps you dry", "espresso machine"]
    home = {"data_home": data_home}  # with the shared embedding cache on
    exact = Embedder(Settings(**home, embedding_backend="onnx")).embed(texts)
    int8 = Embedder(Settings(**home, embedding_backend="onnx-int8")).embed(texts)
    agreement = np.sum(exact * int8, axis=1)
    assert np.all(agreement > 0.9) and np.any(agreement < 0.9999)  # close, but really int8
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    # The same ranking: the coat is nearer the jacket than the espresso machine is.
    assert int8[0] @ int8[1] > int8[0] @ int8[2]
    # Neither backend's cache answers for the other.
    again = Embedder(Settings(**home, embedding_backend="onnx")).embed(texts)
    assert np.allclose(again, exact)
