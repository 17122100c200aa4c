"""Numerical evidence that our NumPy pieces compute what PyTorch's do.

Each function builds the same computation twice, ours and torch's, from the same numbers, and
returns the largest absolute difference (or the statistics to compare).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from curriculum.foundations.mlp_numpy.layers import Dense, Dropout, SoftmaxCrossEntropy
from curriculum.foundations.mlp_numpy.model import MLP
from curriculum.foundations.optimization.optimizers import Adam
from curriculum.foundations.torch_compare.network import copy_weights, torch_mlp

TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def max_gap(ours: np.ndarray, theirs: torch.Tensor) -> float:
    return float(np.max(np.abs(ours - theirs.detach().numpy())))


def dense_cross_entropy(dtype: type = np.float64, seed: int = 0) -> dict[str, float]:
    """One Dense layer + softmax cross-entropy against nn.Linear + nn.CrossEntropyLoss."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 20)).astype(dtype)
    labels = rng.integers(0, 7, 32)
    dense = Dense(20, 7, rng, dtype)
    dense.b += rng.standard_normal(7).astype(dtype)
    fused = SoftmaxCrossEntropy()
    loss = fused.forward(dense.forward(x), labels)
    grad_x = dense.backward(fused.backward())

    linear = nn.Linear(20, 7).to(TORCH_DTYPES[dtype])
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(dense.w.T.copy()))
        linear.bias.copy_(torch.from_numpy(dense.b))
    x_t = torch.from_numpy(x).requires_grad_()
    loss_t = nn.CrossEntropyLoss()(linear(x_t), torch.from_numpy(labels))
    loss_t.backward()
    return {
        "loss": abs(loss - loss_t.item()),
        "dL/dW": max_gap(dense.dw, linear.weight.grad.T),
        "dL/db": max_gap(dense.db, linear.bias.grad),
        "dL/dx": max_gap(grad_x, x_t.grad),
    }


def whole_network(dtype: type = np.float64, seed: int = 0) -> dict[str, float]:
    """Loss and every gradient of a 784-64-32-10 MLP against torch autograd (no dropout)."""
    rng = np.random.default_rng(seed)
    x = rng.random((64, 784)).astype(dtype)
    labels = rng.integers(0, 10, 64)
    ours = MLP.build((784, 64, 32, 10), seed=seed, dtype=dtype)
    net = torch_mlp((784, 64, 32, 10)).to(TORCH_DTYPES[dtype])
    copy_weights(ours, net)
    fused = SoftmaxCrossEntropy()
    loss = fused.forward(ours.forward(x), labels)
    ours.backward(fused.backward())
    loss_t = nn.CrossEntropyLoss()(net(torch.from_numpy(x)), torch.from_numpy(labels))
    loss_t.backward()
    linear = [m for m in net if isinstance(m, nn.Linear)]
    gaps = {"loss": abs(loss - loss_t.item())}
    dense = [layer for layer in ours.layers if isinstance(layer, Dense)]
    for i, (d, lin) in enumerate(zip(dense, linear, strict=True), start=1):
        gaps[f"dL/dW{i}"] = max_gap(d.dw, lin.weight.grad.T)
        gaps[f"dL/db{i}"] = max_gap(d.db, lin.bias.grad)
    return gaps


def adam_on_same_gradients(
    steps: int = 1000, dtype: type = np.float32, weight_decay: float = 0.0, seed: int = 0
) -> np.ndarray:
    """Our Adam and torch.optim.Adam fed the same gradient sequence: the parameter gap per step."""
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(500).astype(dtype)
    ours = [start.copy()]
    theirs = torch.tensor(start.copy(), requires_grad=True)
    ours_adam = Adam(ours, lr=1e-2, weight_decay=weight_decay)
    torch_adam = torch.optim.Adam([theirs], lr=1e-2, weight_decay=weight_decay)
    gaps = np.empty(steps)
    for step in range(steps):
        # Gradients spanning 1e-6..1e2 in size and changing sign, like a real network's.
        grad = (rng.standard_normal(500) * 10.0 ** rng.uniform(-6, 2, 500)).astype(dtype)
        ours_adam.step([grad])
        theirs.grad = torch.from_numpy(grad.copy())
        torch_adam.step()
        gaps[step] = max_gap(ours[0], theirs)
    return gaps


@dataclass
class TrainingComparison:
    gaps: np.ndarray  # max |parameter difference| after each step
    losses: tuple[np.ndarray, np.ndarray]  # ours, torch's


def train_side_by_side(
    x: np.ndarray, y: np.ndarray, steps: int, dtype: type = np.float32, seed: int = 0
) -> TrainingComparison:
    """The MNIST MLP trained by us and by PyTorch from the same weights on the same batches."""
    x = x.astype(dtype)
    ours = MLP.build((784, 128, 10), seed=seed, dtype=dtype)
    net = torch_mlp((784, 128, 10)).to(TORCH_DTYPES[dtype])
    copy_weights(ours, net)
    ours_adam = Adam(ours.params(), lr=1e-3)
    torch_adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    fused, loss_fn = SoftmaxCrossEntropy(), nn.CrossEntropyLoss()
    linear = [m for m in net if isinstance(m, nn.Linear)]
    rng = np.random.default_rng(seed)
    gaps, ours_losses, torch_losses = [], [], []
    for _ in range(steps):
        batch = rng.choice(len(x), 128, replace=False)
        ours_losses.append(fused.forward(ours.forward(x[batch]), y[batch]))
        ours.backward(fused.backward())
        ours_adam.step(ours.grads())

        torch_adam.zero_grad()
        loss = loss_fn(net(torch.from_numpy(x[batch])), torch.from_numpy(y[batch]))
        loss.backward()
        torch_adam.step()
        torch_losses.append(loss.item())

        dense = [layer for layer in ours.layers if isinstance(layer, Dense)]
        gaps.append(
            max(
                max(max_gap(d.w, lin.weight.T), max_gap(d.b, lin.bias))
                for d, lin in zip(dense, linear, strict=True)
            )
        )
    return TrainingComparison(np.array(gaps), (np.array(ours_losses), np.array(torch_losses)))


@dataclass
class DropoutStats:
    zero_fraction: float
    kept_value: float
    mean: float
    variance: float
    per_row_zero_fraction: np.ndarray  # one number per row: spread should be binomial


def dropout_statistics(p: float, rows: int = 2000, units: int = 1000, seed: int = 0):
    """Ours and nn.Dropout applied to a matrix of ones: (ours, torch's) statistics."""
    ones = np.ones((rows, units), dtype=np.float32)
    ours_out = Dropout(p, np.random.default_rng(seed)).forward(ones, training=True)
    torch.manual_seed(seed)
    layer = nn.Dropout(p)
    layer.train()
    torch_out = layer(torch.from_numpy(ones)).numpy()

    def stats(out: np.ndarray) -> DropoutStats:
        return DropoutStats(
            zero_fraction=float(np.mean(out == 0)),
            kept_value=float(out[out != 0][0]),
            mean=float(out.mean()),
            variance=float(out.var()),
            per_row_zero_fraction=np.mean(out == 0, axis=1),
        )

    layer.eval()
    identity = bool(torch.equal(layer(torch.from_numpy(ones)), torch.from_numpy(ones)))
    ours_identity = Dropout(p, np.random.default_rng(seed)).forward(ones) is ones
    return stats(ours_out), stats(torch_out), ours_identity and identity


def linear_init_bound(n_in: int = 784, n_out: int = 512) -> tuple[float, float, float]:
    """nn.Linear's default weights: (largest |w|, 1/sqrt(n_in), their std) for comparison."""
    torch.manual_seed(0)
    weight = nn.Linear(n_in, n_out).weight.detach().numpy()
    return float(np.abs(weight).max()), 1 / np.sqrt(n_in), float(weight.std())
