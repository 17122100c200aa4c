"""The NumPy MLP: gradient checks, layer behaviour, learning on a subset, the lesson."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.foundations.mlp_numpy import gradcheck
from curriculum.foundations.mlp_numpy.layers import Dense, Dropout, SoftmaxCrossEntropy
from curriculum.foundations.mlp_numpy.mnist import Config, confusion_matrix, train_mnist
from curriculum.foundations.mlp_numpy.model import MLP


def test_every_layer_and_a_whole_network_pass_the_gradient_check():
    for layer, errors in gradcheck.check_all().items():
        for name, error in errors.items():
            assert error < 1e-7, (layer, name, error)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gradient_check_of_deeper_networks(seed):
    rng = np.random.default_rng(seed)
    model = MLP.build((4, 8, 8, 8, 3), dropout=0.5, seed=seed, dtype=np.float64)
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    assert gradcheck.check_model(model, x, y) < 1e-7


def test_he_initialisation_scale():
    layer = Dense(1000, 500, np.random.default_rng(0))
    assert layer.w.dtype == np.float32
    assert layer.w.std() == pytest.approx(np.sqrt(2 / 1000), rel=0.02)


def test_inverted_dropout_keeps_the_mean_and_is_identity_in_evaluation():
    dropout = Dropout(0.3, np.random.default_rng(0))
    x = np.ones((500, 400), dtype=np.float32)
    out = dropout.forward(x, training=True)
    assert out.dtype == np.float32
    assert np.mean(out == 0) == pytest.approx(0.3, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.01)
    assert np.allclose(np.unique(out), [0.0, 1 / 0.7])
    assert dropout.forward(x, training=False) is x


def test_softmax_cross_entropy_is_stable_and_correct():
    fused = SoftmaxCrossEntropy()
    logits = np.array([[1e4, 0.0, -1e4], [2.0, 1.0, 0.1]])
    loss = fused.forward(logits, np.array([0, 2]))
    row = np.array([2.0, 1.0, 0.1])
    expected = (0.0 - np.log(np.exp(row[2]) / np.exp(row).sum())) / 2
    assert np.isfinite(loss) and loss == pytest.approx(expected)
    grad = fused.backward()
    assert np.allclose(grad.sum(axis=1), 0)  # probabilities minus a one-hot, per row


def test_confusion_matrix_counts_pairs():
    counts = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), classes=3)
    assert counts.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_learns_mnist_digits_from_a_small_subset():
    config = Config(sizes=(784, 64, 10), dropout=0.1, batch_size=64, epochs=4, train_rows=3_000)
    run = train_mnist(config)
    assert run.history.valid_accuracy[-1] > 0.85
    assert run.history.train_loss[-1] < run.history.train_loss[0]


def test_lesson_writes_report_and_figures(tmp_path):
    result = CliRunner().invoke(app, ["mlp_numpy", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["gradient_check_worst"] < 1e-7
    assert results["mnist"]["test_accuracy"] > 0.8
    for name in ("learning_curves", "confusion_matrix", "mistakes", "optimizers"):
        assert (tmp_path / f"{name}.png").exists()


def test_benchmark_quick_run_compares_with_pytorch():
    from benchmarks.curriculum_mnist import run

    accuracy, seconds = run(quick=True)
    assert accuracy["metric"] == "mnist_mlp_numpy_test_accuracy"
    assert accuracy["value"] > 0.85 and accuracy["baseline"] > 0.85  # ours and PyTorch's
    assert seconds["unit"] == "s" and seconds["baseline"] > 0 and seconds["within_budget"]
