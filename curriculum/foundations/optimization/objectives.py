"""Functions to minimise, each with its gradient worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curriculum.foundations.numpy_pandas.logistic import sigmoid


def square(x: np.ndarray) -> float:
    """f(x) = x^2: the simplest bowl; minimum 0 at x = 0."""
    return float(np.sum(x**2))


def square_grad(x: np.ndarray) -> np.ndarray:
    return 2 * x


def rosenbrock(p: np.ndarray) -> float:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2: a curved, flat-bottomed valley; minimum at (1, 1)."""
    x, y = p
    return float((1 - x) ** 2 + 100 * (y - x**2) ** 2)


def rosenbrock_grad(p: np.ndarray) -> np.ndarray:
    x, y = p
    # d/dx: -2(1 - x) + 100 * 2(y - x^2) * (-2x);   d/dy: 100 * 2(y - x^2)
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


@dataclass(frozen=True)
class LogisticLoss:
    """Mean cross-entropy of a logistic model w . x (no bias, so w is a point in the plane)."""

    x: np.ndarray  # (n, d)
    y: np.ndarray  # (n,) in {0, 1}

    def __call__(self, w: np.ndarray) -> float:
        z = self.x @ w
        return float(np.mean(np.logaddexp(0.0, z) - self.y * z))

    def grad(self, w: np.ndarray) -> np.ndarray:
        # dL/dz_i = sigmoid(z_i) - y_i, and z = X w, so dL/dw = X^T (p - y) / n.
        return self.x.T @ (sigmoid(self.x @ w) - self.y) / len(self.y)


def two_blobs(n: int = 200, seed: int = 0) -> LogisticLoss:
    """Two overlapping Gaussian classes in 2-D, one axis 5x more stretched: an elongated loss."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    centres = np.where(y[:, None] == 1, [0.5, 0.4], [-0.5, -0.4])
    x = (centres + rng.standard_normal((n, 2))) * [1.0, 5.0]
    return LogisticLoss(x, y.astype(float))
