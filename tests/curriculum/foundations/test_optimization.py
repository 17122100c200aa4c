"""Optimizers, hand-derived gradients against finite differences, and the lesson."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.foundations.optimization import objectives, two_layer
from curriculum.foundations.optimization.optimizers import (
    Adam,
    GradientDescent,
    Momentum,
    RMSProp,
    trajectory,
)


def test_gradient_descent_on_x_squared_shrinks_by_one_minus_two_lr():
    path = trajectory(GradientDescent, objectives.square_grad, [5.0], 3, lr=0.1)
    assert np.allclose(path[:, 0], [5.0, 4.0, 3.2, 2.56])
    assert trajectory(GradientDescent, objectives.square_grad, [5.0], 1, lr=0.5)[-1, 0] == 0.0


def test_first_adam_and_rmsprop_steps_have_size_lr_whatever_the_gradient():
    for grad in ([1e-3, -3.0], [1e6, 2.0]):
        x = np.zeros(2)
        Adam([x], lr=0.01).step([np.array(grad)])  # m^ / sqrt(v^) = sign(g) at t = 1
        assert np.allclose(x, -0.01 * np.sign(grad), rtol=1e-4)
    x = np.zeros(1)
    RMSProp([x], lr=0.01, rho=0.9).step([np.array([4.0])])  # g / sqrt(0.1 g^2)
    assert x[0] == pytest.approx(-0.01 / np.sqrt(0.1), rel=1e-6)


def test_momentum_accumulates_a_constant_gradient():
    x = np.zeros(1)
    optimizer = Momentum([x], lr=1.0, momentum=0.5)
    for _ in range(3):
        optimizer.step([np.ones(1)])
    assert x[0] == pytest.approx(-(1 + 1.5 + 1.75))


def test_optimizers_update_every_array_in_place():
    params = [np.ones((2, 2)), np.ones(3)]
    ids = [id(p) for p in params]
    Adam(params, lr=0.1, weight_decay=0.01).step([np.ones((2, 2)), -np.ones(3)])
    assert [id(p) for p in params] == ids
    assert np.all(params[0] < 1) and np.all(params[1] > 1)


@pytest.mark.parametrize("point", [(-1.5, 2.0), (0.3, -0.7), (1.0, 1.0)])
def test_rosenbrock_gradient_matches_finite_differences(point):
    p = np.array(point)
    numeric = two_layer.numerical_gradient(lambda: objectives.rosenbrock(p), p)
    assert np.allclose(objectives.rosenbrock_grad(p), numeric, atol=1e-5)


def test_logistic_gradient_matches_finite_differences():
    loss = objectives.two_blobs(50)
    w = np.array([0.3, -0.2])
    numeric = two_layer.numerical_gradient(lambda: loss(w), w)
    assert np.allclose(loss.grad(w), numeric, atol=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_two_layer_backprop_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 4))
    y = np.eye(3)[rng.integers(0, 3, 6)]
    net = two_layer.TwoLayerNet.random(4, 5, 3, seed=seed)
    _, analytic = net.loss_and_grads(x, y)
    for name, param in net.params().items():
        numeric = two_layer.numerical_gradient(lambda: net.loss(x, y), param)
        assert two_layer.relative_error(analytic[name], numeric) < 1e-7, name


def test_adam_reaches_rosenbrocks_minimum():
    path = trajectory(Adam, objectives.rosenbrock_grad, [-1.5, 2.0], 3000, lr=0.02)
    assert np.allclose(path[-1], [1.0, 1.0], atol=1e-4)


def test_lesson_writes_report_and_figures(tmp_path):
    result = CliRunner().invoke(app, ["optimization", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["gradient_check_worst_relative_error"] < 1e-7
    assert results["logistic"]["Adam"] < results["logistic"]["GD"]
    for name in ("square", "rosenbrock", "logistic", "finite_difference_eps"):
        assert (tmp_path / f"{name}.png").exists()
    assert "\\|x\\|" in (tmp_path / "report.md").read_text()  # escaped inside the table
