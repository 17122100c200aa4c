"""L2-regularised logistic regression in NumPy, fitted by Newton's method, and k-fold CV.

Objective (the same as scikit-learn's with C = 1 / l2, intercept not penalised):

    J(w, b) = sum_i [log(1 + exp(z_i)) - y_i z_i] + l2 / 2 ||w||^2,    z = X w + b

Gradient X^T (p - y) + l2 w and Hessian X^T diag(p (1 - p)) X + l2 I, with p = sigmoid(z).
J is convex, so Newton's steps (solve H d = g) reach the optimum in a handful of iterations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    # exp(-log(1 + exp(-z))): never overflows, for any sign of z.
    return np.exp(-np.logaddexp(0.0, -z))


def log_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy from logits: log(1 + e^z) - y z, computed without overflow."""
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


@dataclass(frozen=True)
class LogisticModel:
    weights: np.ndarray
    bias: float
    iterations: int

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (self.logits(x) > 0).astype(int)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, max_iter: int = 50, tol: float = 1e-10
) -> LogisticModel:
    """Newton's method on J; stops when the largest step is below ``tol``."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])  # the bias as a last, unpenalised weight
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    theta = np.zeros(d + 1)
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        p = sigmoid(xb @ theta)
        gradient = xb.T @ (p - y) + penalty * theta
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.max(np.abs(step)) < tol:
            break
    return LogisticModel(theta[:-1], float(theta[-1]), iteration)


def kfold(n: int, k: int, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays for k shuffled folds of nearly equal size."""
    order = np.random.default_rng(seed).permutation(n)
    for test in np.array_split(order, k):
        yield np.setdiff1d(order, test), test


class Standardizer:
    """z-scores with the training rows' mean and std (constant columns stay as they are)."""

    def __init__(self, x: np.ndarray) -> None:
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std


FoldFeatures = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Fold:
    test_index: np.ndarray  # rows of the full data set that this fold tests on
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def standardized_folds(
    make_features: FoldFeatures, y: np.ndarray, k: int = 5, seed: int = 0
) -> list[Fold]:
    """Per fold: features built from the training rows only, then standardized the same way."""
    folds = []
    for train, test in kfold(len(y), k, seed):
        x_train, x_test = make_features(train, test)
        scale = Standardizer(x_train)
        folds.append(Fold(test, scale(x_train), y[train], scale(x_test), y[test]))
    return folds
