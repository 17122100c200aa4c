"""An MLP as a list of layers, and the mini-batch training loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from curriculum.foundations.mlp_numpy.layers import Dense, Dropout, Layer, ReLU, SoftmaxCrossEntropy
from curriculum.foundations.optimization.optimizers import Optimizer


class MLP:
    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = list(layers)
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        if dense:
            dense[0].input_grad = False  # nothing upstream of the first layer needs it

    @classmethod
    def build(
        cls,
        sizes: Sequence[int],
        dropout: float = 0.0,
        seed: int = 0,
        dtype: type = np.float32,
    ) -> MLP:
        """Dense-ReLU-Dropout blocks, e.g. sizes (784, 512, 512, 10); no activation at the end."""
        rng = np.random.default_rng(seed)
        layers: list[Layer] = []
        for i, (n_in, n_out) in enumerate(pairwise(sizes)):
            layers.append(Dense(n_in, n_out, rng, dtype))
            if i < len(sizes) - 2:
                layers.append(ReLU())
                if dropout:
                    layers.append(Dropout(dropout, rng))
        return cls(layers)

    def params(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer.params()]

    def grads(self) -> list[np.ndarray]:
        return [g for layer in self.layers for g in layer.grads()]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray) -> None:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
            if grad is None:
                break

    def predict(self, x: np.ndarray, batch: int = 10_000) -> np.ndarray:
        return np.concatenate(
            [self.forward(x[i : i + batch]).argmax(axis=1) for i in range(0, len(x), batch)]
        )


@dataclass
class History:
    epoch_seconds: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_accuracy: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))


def evaluate(model: MLP, x: np.ndarray, y: np.ndarray, batch: int = 10_000) -> tuple[float, float]:
    """(mean loss, accuracy) without dropout."""
    loss_fn, total_loss, correct = SoftmaxCrossEntropy(), 0.0, 0
    for i in range(0, len(x), batch):
        logits = model.forward(x[i : i + batch])
        total_loss += loss_fn.forward(logits, y[i : i + batch]) * len(logits)
        correct += int((logits.argmax(axis=1) == y[i : i + batch]).sum())
    return total_loss / len(x), correct / len(x)


def train(
    model: MLP,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    schedule: Callable[[int], float] | None = None,
    on_epoch: Callable[[int, History], None] | None = None,
) -> History:
    """Shuffled mini-batches each epoch; ``schedule(epoch)`` multiplies the base learning rate."""
    rng = np.random.default_rng(seed)
    loss_fn = SoftmaxCrossEntropy()
    base_lr, history = optimizer.lr, History()
    for epoch in range(epochs):
        optimizer.lr = base_lr * (schedule(epoch) if schedule else 1.0)
        start = time.perf_counter()
        order = rng.permutation(len(x))
        loss_sum, correct = 0.0, 0
        for i in range(0, len(x), batch_size):
            batch = order[i : i + batch_size]
            logits = model.forward(x[batch], training=True)
            loss_sum += loss_fn.forward(logits, y[batch]) * len(batch)
            correct += int((logits.argmax(axis=1) == y[batch]).sum())
            model.backward(loss_fn.backward())
            optimizer.step(model.grads())
        history.epoch_seconds.append(time.perf_counter() - start)
        history.train_loss.append(loss_sum / len(x))
        history.train_accuracy.append(correct / len(x))  # with dropout on, as it trained
        valid_loss, valid_accuracy = evaluate(model, x_valid, y_valid)
        history.valid_loss.append(valid_loss)
        history.valid_accuracy.append(valid_accuracy)
        if on_epoch:
            on_epoch(epoch, history)
    optimizer.lr = base_lr
    return history
