"""Our NumPy MLP pieces against PyTorch's, number for number."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.foundations.mlp_numpy.model import MLP
from curriculum.foundations.torch_compare import equivalence as eq
from curriculum.foundations.torch_compare.network import copy_weights, torch_mlp


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize(("dtype", "tolerance"), [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_dense_cross_entropy_equals_linear_and_cross_entropy_loss(dtype, tolerance):
    for seed in range(3):
        gaps = eq.dense_cross_entropy(dtype, seed)
        assert max(gaps.values()) < tolerance, gaps


def test_whole_network_loss_and_gradients_equal_autograd():
    assert max(eq.whole_network(np.float64).values()) < 1e-12
    assert max(eq.whole_network(np.float32).values()) < 1e-6


def test_copied_weights_give_the_same_outputs():
    ours = MLP.build((784, 32, 10), seed=3, dtype=np.float64)
    net = torch_mlp((784, 32, 10)).double()
    copy_weights(ours, net)
    x = np.random.default_rng(0).random((5, 784))
    assert np.allclose(ours.forward(x), net(torch.from_numpy(x)).detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_matches_torch_optim_adam_step_for_step(weight_decay):
    assert eq.adam_on_same_gradients(300, np.float32, weight_decay).max() < 1e-6
    assert eq.adam_on_same_gradients(300, np.float64, weight_decay).max() < 1e-12


def test_training_side_by_side_stays_together_in_float64():
    rng = np.random.default_rng(0)
    x, y = rng.random((600, 784)), rng.integers(0, 10, 600)
    comparison = eq.train_side_by_side(x, y, steps=30, dtype=np.float64)
    assert comparison.gaps.max() < 1e-10
    assert np.allclose(*comparison.losses, atol=1e-12)


def test_dropout_statistics_match_nn_dropout_and_theory():
    p = 0.35
    ours, theirs, identity = eq.dropout_statistics(p, rows=400, units=500)
    assert identity
    for stats in (ours, theirs):
        assert stats.zero_fraction == pytest.approx(p, abs=0.01)
        assert stats.kept_value == pytest.approx(1 / (1 - p))
        assert stats.mean == pytest.approx(1.0, abs=0.02)
        assert stats.variance == pytest.approx(p / (1 - p), abs=0.02)


def test_lesson_writes_report_and_figures(tmp_path):
    result = CliRunner().invoke(app, ["torch_compare", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["adam_max_gap"]["float32"] < 1e-6
    assert results["side_by_side_max_gap"]["float64"] < 1e-10
    for name in ("adam_steps", "side_by_side", "dropout"):
        assert (tmp_path / f"{name}.png").exists()
