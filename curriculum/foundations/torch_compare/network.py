"""The MLP of ``mlp_numpy`` in PyTorch: same layers, weights copied across, same training."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np
import torch
from torch import nn

from curriculum.foundations.mlp_numpy.layers import Dense
from curriculum.foundations.mlp_numpy.model import MLP


def torch_mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear-ReLU-Dropout blocks, mirroring ``MLP.build``."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def copy_weights(ours: MLP, net: nn.Sequential) -> None:
    """Our Dense computes x W + b with W of shape (in, out); nn.Linear computes x Wᵀ + b with
    weight (out, in), so the weight goes across transposed."""
    dense = [layer for layer in ours.layers if isinstance(layer, Dense)]
    linear = [module for module in net if isinstance(module, nn.Linear)]
    with torch.no_grad():
        for d, lin in zip(dense, linear, strict=True):
            lin.weight.copy_(torch.from_numpy(d.w.T.copy()))
            lin.bias.copy_(torch.from_numpy(d.b))


def train_torch(
    net: nn.Sequential,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    schedule: Callable[[int], float],
    seed: int = 0,
    threads: int = 1,
) -> list[float]:
    """The loop of ``mlp_numpy.model.train`` with torch.optim.Adam; seconds per epoch."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        loss_fn = nn.CrossEntropyLoss()
        rng = np.random.default_rng(seed)
        seconds = []
        net.train()
        for epoch in range(epochs):
            for group in optimizer.param_groups:
                group["lr"] = lr * schedule(epoch)
            start = time.perf_counter()
            order = torch.from_numpy(rng.permutation(len(x)))
            for i in range(0, len(x), batch_size):
                index = order[i : i + batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(net(x_t[index]), y_t[index])
                loss.backward()
                optimizer.step()
            seconds.append(time.perf_counter() - start)
        return seconds
    finally:
        torch.set_num_threads(previous)


def accuracy(net: nn.Sequential, x: np.ndarray, y: np.ndarray) -> float:
    net.eval()
    with torch.no_grad():
        return float((net(torch.from_numpy(x)).argmax(dim=1).numpy() == y).mean())
