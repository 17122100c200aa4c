"""Five next-character models, from counting to a hierarchical MLP.

Everything except autograd is written out: embeddings are a table lookup, BatchNorm keeps its
own running statistics, and the WaveNet-style model fuses neighbours pairwise, level by level.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

VOCAB = 27


def count_model(contexts: torch.Tensor, targets: torch.Tensor, smoothing: float = 1.0):
    """n-gram by counting: P(next | context) = (count + smoothing) / row total.

    ``contexts`` holds the n-1 previous characters; they are flattened into one row index.
    Returns the (VOCAB^(n-1), VOCAB) probability table.
    """
    order = contexts.shape[1]
    rows = _row_index(contexts)
    counts = torch.full((VOCAB**order, VOCAB), smoothing, dtype=torch.float64)
    counts.index_put_((rows, targets), torch.ones(len(rows), dtype=torch.float64), True)
    return counts / counts.sum(1, keepdim=True)


def count_loss(table: torch.Tensor, contexts: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean negative log-likelihood of the targets under a count table."""
    return -table[_row_index(contexts), targets].log().mean().item()


def _row_index(contexts: torch.Tensor) -> torch.Tensor:
    rows = torch.zeros(len(contexts), dtype=torch.long)
    for column in range(contexts.shape[1]):
        rows = rows * VOCAB + contexts[:, column]
    return rows


class BigramNet:
    """The bigram as a one-layer net: one-hot(previous) @ W gives logits, W is 27 × 27.

    Trained by full-batch gradient descent; exp(W) then plays the role of the count table,
    and the L2 penalty on W plays the role of count smoothing.
    """

    def __init__(self, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.W = torch.randn(VOCAB, VOCAB, generator=generator, requires_grad=True)

    def loss(self, contexts, targets, l2: float = 0.0) -> torch.Tensor:
        logits = F.one_hot(contexts[:, -1], VOCAB).float() @ self.W
        return F.cross_entropy(logits, targets) + l2 * (self.W**2).mean()

    def fit(self, contexts, targets, steps: int, lr: float = 50.0, l2: float = 0.01) -> None:
        for _ in range(steps):
            self.W.grad = None
            self.loss(contexts, targets, l2).backward()
            with torch.no_grad():
                self.W -= lr * self.W.grad


class Linear:
    def __init__(self, fan_in: int, fan_out: int, generator, bias: bool = True, gain=1.0):
        # Kaiming-style: std gain/√fan_in keeps the activations' scale layer after layer.
        self.weight = torch.randn(fan_in, fan_out, generator=generator) * gain / fan_in**0.5
        self.bias = torch.zeros(fan_out) if bias else None

    def __call__(self, x):
        self.out = x @ self.weight + (self.bias if self.bias is not None else 0)
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:
    """Normalize each feature over the batch (and positions, for 3-D input), then scale and
    shift; running mean/variance, updated by momentum, replace the batch's at evaluation."""

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        self.eps, self.momentum, self.training = eps, momentum, True
        self.gamma, self.beta = torch.ones(dim), torch.zeros(dim)
        self.running_mean, self.running_var = torch.zeros(dim), torch.ones(dim)

    def __call__(self, x):
        if self.training:
            dims = tuple(range(x.ndim - 1))
            mean = x.mean(dims, keepdim=True)
            var = x.var(dims, keepdim=True, unbiased=False)
            with torch.no_grad():
                # torch's convention: the running variance is the unbiased one.
                n = x.numel() // x.shape[-1]
                unbiased = var * n / max(n - 1, 1)
                self.running_mean.lerp_(mean.reshape(-1), self.momentum)
                self.running_var.lerp_(unbiased.reshape(-1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        self.out = self.gamma * (x - mean) / torch.sqrt(var + self.eps) + self.beta
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class Tanh:
    def __call__(self, x):
        self.out = torch.tanh(x)
        return self.out

    def parameters(self):
        return []


class FlattenConsecutive:
    """(B, T, C) -> (B, T/n, C·n): fuse each run of n neighbours (WaveNet's dilation)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, x):
        batch, length, channels = x.shape
        x = x.reshape(batch, length // self.n, channels * self.n)
        self.out = x.squeeze(1) if x.shape[1] == 1 else x
        return self.out

    def parameters(self):
        return []


class Sequential:
    """An embedding table followed by layers; ``layers`` are inspected for the plots."""

    def __init__(self, embedding_dim: int, layers: list, generator) -> None:
        self.embedding = torch.randn(VOCAB, embedding_dim, generator=generator)
        self.layers = layers
        for parameter in self.parameters():
            parameter.requires_grad = True

    def __call__(self, contexts):
        x = self.embedding[contexts]  # (B, block, embedding_dim)
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [self.embedding] + [p for layer in self.layers for p in layer.parameters()]

    def train(self, mode: bool = True) -> None:
        for layer in self.layers:
            layer.training = mode


def mlp(block: int, embedding_dim=10, hidden=200, seed=0) -> Sequential:
    """Bengio et al. 2003: concatenated embeddings -> hidden tanh layer (+ BatchNorm) -> logits."""
    g = torch.Generator().manual_seed(seed)
    layers = [
        _Flatten(),
        Linear(block * embedding_dim, hidden, g, bias=False, gain=5 / 3),
        BatchNorm1d(hidden),
        Tanh(),
        Linear(hidden, hidden, g, bias=False, gain=5 / 3),
        BatchNorm1d(hidden),
        Tanh(),
        Linear(hidden, VOCAB, g, gain=0.1),  # small logits: a near-uniform first guess
    ]
    return Sequential(embedding_dim, layers, g)


def wavenet(block: int = 8, embedding_dim=16, hidden=96, seed=0) -> Sequential:
    """Hierarchical: fuse pairs of characters, then pairs of pairs... (block = 2^levels)."""
    g = torch.Generator().manual_seed(seed)
    layers, width = [], embedding_dim
    while block > 1:
        layers += [
            FlattenConsecutive(2),
            Linear(2 * width, hidden, g, bias=False, gain=5 / 3),
            BatchNorm1d(hidden),
            Tanh(),
        ]
        width, block = hidden, block // 2
    layers.append(Linear(hidden, VOCAB, g, gain=0.1))
    return Sequential(embedding_dim, layers, g)


class _Flatten:
    def __call__(self, x):
        self.out = x.reshape(len(x), -1)
        return self.out

    def parameters(self):
        return []


def fit(model: Sequential, x, y, steps: int, batch: int = 32, seed: int = 0) -> list[float]:
    """Minibatch SGD, learning rate 0.1 then 0.01 for the last quarter; per-step losses."""
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(steps):
        index = torch.randint(0, len(x), (batch,), generator=generator)
        loss = F.cross_entropy(model(x[index]), y[index])
        for parameter in model.parameters():
            parameter.grad = None
        loss.backward()
        lr = 0.1 if step < 0.75 * steps else 0.01
        with torch.no_grad():
            for parameter in model.parameters():
                parameter -= lr * parameter.grad
        losses.append(loss.item())
    return losses


@torch.no_grad()
def evaluate(model: Sequential, x, y) -> float:
    model.train(False)
    loss = F.cross_entropy(model(x), y).item()
    model.train(True)
    return loss


@torch.no_grad()
def sample(model: Sequential, block: int, count: int, seed: int = 0) -> list[str]:
    from curriculum.llm_internals.makemore.data import ALPHABET

    generator = torch.Generator().manual_seed(seed)
    model.train(False)
    words = []
    for _ in range(count):
        context, out = [0] * block, []
        while len(out) < 20:
            probs = F.softmax(model(torch.tensor([context])), -1)
            token = torch.multinomial(probs, 1, generator=generator).item()
            if token == 0:
                break
            out.append(ALPHABET[token])
            context = [*context[1:], token]
        words.append("".join(out))
    model.train(True)
    return words
