"""The layers of a multi-layer perceptron, each with a forward and a backward pass.

``forward(x)`` remembers what ``backward`` will need; ``backward(dL/d(output))`` stores the
gradients of the layer's parameters and returns dL/d(input). Arrays keep the dtype they are
given (float32 for training, float64 for gradient checks).
"""

from __future__ import annotations

import numpy as np


class Layer:
    def params(self) -> list[np.ndarray]:
        return []

    def grads(self) -> list[np.ndarray]:
        return []

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Dense(Layer):
    """y = x W + b.   dL/dW = x^T g,   dL/db = sum of g's rows,   dL/dx = g W^T."""

    def __init__(
        self, n_in: int, n_out: int, rng: np.random.Generator, dtype: type = np.float32
    ) -> None:
        # He initialisation: Var(W) = 2 / n_in keeps the activations' scale constant through
        # ReLU layers, which zero half their inputs (He et al., 2015).
        self.w = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        self.dw = np.zeros_like(self.w)
        self.db = np.zeros_like(self.b)
        self.input_grad = True  # the first layer's dL/dx is never used: skipping it saves a matmul

    def params(self) -> list[np.ndarray]:
        return [self.w, self.b]

    def grads(self) -> list[np.ndarray]:
        return [self.dw, self.db]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.x = x
        return x @ self.w + self.b

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        np.matmul(self.x.T, grad, out=self.dw)
        np.sum(grad, axis=0, out=self.db)
        return grad @ self.w.T if self.input_grad else None


class ReLU(Layer):
    """max(x, 0); its derivative is 1 where x > 0, else 0 (we take 0 at the kink)."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.active = x > 0
        return np.maximum(x, 0)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.active


class Dropout(Layer):
    """Inverted dropout (Srivastava et al., 2014): in training, zero each unit with probability
    p and scale the survivors by 1 / (1 - p), so the expected activation is unchanged and
    evaluation needs no rescaling: at test time the layer is the identity."""

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        self.p = p
        self.rng = rng
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self.mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad if self.mask is None else grad * self.mask


class SoftmaxCrossEntropy:
    """Softmax and categorical cross-entropy fused, mean over the batch.

    log softmax(z)_k = z_k - max(z) - log sum_j exp(z_j - max(z)): shifting by the row's max
    changes nothing mathematically and keeps exp from overflowing. Fused, the gradient is
    simply (softmax(z) - onehot(y)) / n, where softmax's own Jacobian would be n x c x c.
    """

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        self.labels = labels
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    def backward(self) -> np.ndarray:
        grad = self.probs.copy()
        grad[np.arange(len(self.labels)), self.labels] -= 1
        return grad / len(self.labels)
