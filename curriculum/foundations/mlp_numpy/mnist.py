"""Training the MLP on MNIST: the configuration, and one full run with its results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from curriculum.foundations._blas import blas_threads
from curriculum.foundations.datasets import Mnist, mnist
from curriculum.foundations.mlp_numpy.model import MLP, History, evaluate, train
from curriculum.foundations.optimization.optimizers import Adam


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (784, 512, 512, 10)
    dropout: float = 0.35
    lr: float = 1e-3  # Adam's, decayed to 0 along a half cosine
    batch_size: int = 256
    epochs: int = 15
    seed: int = 0
    train_rows: int | None = None  # a subset, for quick runs and tests
    # One BLAS thread: with the second core busy, two spinning OpenBLAS threads made an epoch
    # 6-8x slower here (see _blas.py).
    threads: int = 1

    def describe(self) -> dict:
        return asdict(self)


QUICK = Config(sizes=(784, 128, 10), epochs=3, train_rows=5_000)


def cosine(epochs: int) -> Callable[[int], float]:
    """Learning-rate factor per epoch: 1 at the start, falling smoothly towards 0."""
    return lambda epoch: 0.5 * (1 + np.cos(np.pi * epoch / epochs))


@dataclass
class Run:
    config: Config
    model: MLP
    history: History
    test_loss: float
    test_accuracy: float
    test_predictions: np.ndarray
    data: Mnist


def train_mnist(config: Config, on_epoch: Callable[[int, History], None] | None = None) -> Run:
    """Train on the 50,000 training images, validate on 10,000 each epoch, test on 10,000."""
    data = mnist()
    x, y = data.x_train, data.y_train
    if config.train_rows:
        x, y = x[: config.train_rows], y[: config.train_rows]
    model = MLP.build(config.sizes, config.dropout, config.seed)
    optimizer = Adam(model.params(), lr=config.lr)
    with blas_threads(config.threads):
        history = train(
            model,
            optimizer,
            x,
            y,
            data.x_valid,
            data.y_valid,
            config.epochs,
            config.batch_size,
            seed=config.seed,
            schedule=cosine(config.epochs),
            on_epoch=on_epoch,
        )
        test_loss, test_accuracy = evaluate(model, data.x_test, data.y_test)
        predictions = model.predict(data.x_test)
    return Run(config, model, history, test_loss, test_accuracy, predictions, data)


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """counts[t, p]: how many images of digit t were called p (one bincount, no loop)."""
    return np.bincount(truth * classes + predicted, minlength=classes**2).reshape(classes, classes)
