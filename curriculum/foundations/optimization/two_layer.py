"""A two-layer network's gradients, derived by hand, and a finite-difference check of them.

Forward, for a batch X (n x d) with one-hot targets Y (n x c):

    A = X W1 + b1           H = tanh(A)          Z = H W2 + b2
    P = softmax(Z)          L = -(1/n) sum_i sum_k Y_ik log P_ik

Backward, by the chain rule, layer by layer from the loss:

    dL/dZ  = (P - Y) / n                 softmax and cross-entropy together: the log cancels
                                         the exp, leaving "predicted minus true"
    dL/dW2 = H^T dL/dZ                   Z is linear in W2
    dL/db2 = sum over rows of dL/dZ      b2 is added to every row
    dL/dH  = dL/dZ W2^T
    dL/dA  = dL/dH * (1 - H^2)           tanh' = 1 - tanh^2, elementwise
    dL/dW1 = X^T dL/dA,   dL/db1 = sum over rows of dL/dA
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TwoLayerNet:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    @classmethod
    def random(cls, d: int, hidden: int, c: int, seed: int = 0) -> TwoLayerNet:
        rng = np.random.default_rng(seed)
        return cls(
            rng.standard_normal((d, hidden)) / np.sqrt(d),
            rng.standard_normal(hidden) * 0.1,
            rng.standard_normal((hidden, c)) / np.sqrt(hidden),
            rng.standard_normal(c) * 0.1,
        )

    def params(self) -> dict[str, np.ndarray]:
        return {"W1": self.w1, "b1": self.b1, "W2": self.w2, "b2": self.b2}

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return self.loss_and_grads(x, y)[0]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        n = len(x)
        h = np.tanh(x @ self.w1 + self.b1)
        z = h @ self.w2 + self.b2
        z_shifted = z - z.max(axis=1, keepdims=True)  # same softmax, no overflow
        log_p = z_shifted - np.log(np.exp(z_shifted).sum(axis=1, keepdims=True))
        loss = float(-np.sum(y * log_p) / n)

        dz = (np.exp(log_p) - y) / n
        dh = dz @ self.w2.T
        da = dh * (1 - h**2)
        grads = {"W1": x.T @ da, "b1": da.sum(axis=0), "W2": h.T @ dz, "b2": dz.sum(axis=0)}
        return loss, grads


def numerical_gradient(loss, param: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(p + eps) - f(p - eps)) / 2 eps, one entry at a time.

    The error is O(eps^2) from the Taylor series plus O(rounding / eps); 1e-6 in float64
    balances the two at about 1e-10.
    """
    grad = np.zeros_like(param)
    for index in np.ndindex(param.shape):
        saved = param[index]
        param[index] = saved + eps
        above = loss()
        param[index] = saved - eps
        below = loss()
        param[index] = saved
        grad[index] = (above - below) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|): scale-free, 0 for identical arrays."""
    scale = np.max(np.abs(a) + np.abs(b))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0
