"""Every layer's backward pass against central differences of its forward pass (float64).

A layer maps x to y; probe it with the scalar L = sum(y * R) for a fixed random R, so that
dL/dy = R. Then backward(R) must equal the numerical dL/dx, and the gradients it stores must
equal the numerical dL/dW for each parameter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from curriculum.foundations.mlp_numpy.layers import (
    Dense,
    Dropout,
    Layer,
    ReLU,
    SoftmaxCrossEntropy,
)
from curriculum.foundations.mlp_numpy.model import MLP
from curriculum.foundations.optimization.two_layer import numerical_gradient, relative_error


def _frozen(layer: Layer) -> Callable[[], None]:
    """A reset that makes Dropout draw the same mask on every forward pass."""
    if isinstance(layer, Dropout):
        return lambda: setattr(layer, "rng", np.random.default_rng(0))
    return lambda: None


def check_layer(layer: Layer, x: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Relative error of dL/dx and of each parameter's gradient, for one layer."""
    reset = _frozen(layer)
    reset()
    probe = np.random.default_rng(seed).standard_normal(layer.forward(x, training=True).shape)

    def loss() -> float:
        reset()
        return float(np.sum(layer.forward(x, training=True) * probe))

    loss()
    analytic_input = layer.backward(probe)
    errors = {"input": relative_error(analytic_input, numerical_gradient(loss, x))}
    names = ("W", "b")
    for name, param, grad in zip(names, layer.params(), layer.grads(), strict=False):
        loss()
        layer.backward(probe)
        errors[name] = relative_error(grad.copy(), numerical_gradient(loss, param))
    return errors


def check_softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    fused = SoftmaxCrossEntropy()
    fused.forward(logits, labels)
    analytic = fused.backward()
    numeric = numerical_gradient(lambda: SoftmaxCrossEntropy().forward(logits, labels), logits)
    return relative_error(analytic, numeric)


def check_model(model: MLP, x: np.ndarray, y: np.ndarray) -> float:
    """Worst relative error over every parameter of a whole network, dropout included.

    Zero biases are jittered first: a row whose inputs are all dropped would otherwise sit
    exactly on ReLU's kink (pre-activation = bias = 0), where a two-sided difference sees the
    slope 1/2 and the backward pass, rightly for a subgradient, takes 0.
    """
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, Dense):
            layer.b += 0.1 * rng.standard_normal(layer.b.shape)
    resets = [_frozen(layer) for layer in model.layers]
    fused = SoftmaxCrossEntropy()

    def loss() -> float:
        for reset in resets:
            reset()
        return fused.forward(model.forward(x, training=True), y)

    loss()
    model.backward(fused.backward())
    analytic = [g.copy() for g in model.grads()]
    return max(
        relative_error(a, numerical_gradient(loss, p))
        for a, p in zip(analytic, model.params(), strict=True)
    )


def check_all(seed: int = 0) -> dict[str, dict[str, float]]:
    """The table of the report: each layer type, then a whole small network."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 5))
    dense = Dense(5, 4, rng, dtype=np.float64)
    dense.b += rng.standard_normal(4)  # non-zero bias, so a wrong db cannot hide
    labels = rng.integers(0, 4, 6)
    model = MLP.build((5, 7, 6, 4), dropout=0.3, seed=seed, dtype=np.float64)
    return {
        "Dense": check_layer(dense, x),
        "ReLU": check_layer(ReLU(), x),
        "Dropout (p = 0.3)": check_layer(Dropout(0.3, rng), x),
        "Softmax + cross-entropy": {"logits": check_softmax_cross_entropy(x[:, :4] * 3, labels)},
        "MLP 5-7-6-4 with dropout": {"all parameters": check_model(model, x, labels)},
    }
