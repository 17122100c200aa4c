"""What a quantized model is judged on: perplexity, bytes stored, speed.

Every function takes ``logits(model, ids) -> (batch, length, vocab)`` so that the same code
measures the curriculum GPT and a transformers model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from curriculum.quantization.quantization.bnb import bnb_bytes
from curriculum.quantization.quantization.quant_linear import storage_bytes

Logits = Callable[[nn.Module, torch.Tensor], torch.Tensor]


@torch.no_grad()
def perplexity(model: nn.Module, logits: Logits, windows: torch.Tensor, batch: int = 4) -> float:
    """exp(mean next-token loss) over every window (n, length): each window is scored alone,
    its first token as context only."""
    model.eval()
    total, count = 0.0, 0
    for chunk in windows.split(batch):
        out = logits(model, chunk)[:, :-1].float()
        targets = chunk[:, 1:]
        total += F.cross_entropy(
            out.reshape(-1, out.shape[-1]), targets.reshape(-1), reduction="sum"
        ).item()
        count += targets.numel()
    return math.exp(total / count)


@dataclass
class Speed:
    forward_tokens_per_s: float
    generate_tokens_per_s: float | None


@torch.no_grad()
def measure_speed(
    model: nn.Module,
    logits: Logits,
    batch: torch.Tensor,
    generate: Callable[[nn.Module, torch.Tensor, int], torch.Tensor] | None = None,
    new_tokens: int = 16,
    repeats: int = 2,
) -> Speed:
    """Best of ``repeats``: a forward pass over ``batch`` (all its tokens at once), and greedy
    generation of ``new_tokens`` after its first row (one token per step, with a KV cache)."""
    model.eval()
    logits(model, batch[:, :8])  # warm-up: first-call allocations are not the model's speed
    best = min(_seconds(lambda: logits(model, batch)) for _ in range(repeats))
    rate = None
    if generate is not None:
        prompt = batch[:1, :32]
        seconds = min(_seconds(lambda: generate(model, prompt, new_tokens)) for _ in range(repeats))
        rate = new_tokens / seconds
    return Speed(batch.numel() / best, rate)


def _seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def linear_bytes(model: nn.Module, prefixes: tuple[str, ...] = ("",)) -> int:
    """Bytes of the (possibly quantized) linear layers under the given module prefixes: the
    part quantization changes (embeddings and norms stay as they are)."""
    total = 0
    for name, module in model.named_modules():
        if name.startswith(prefixes) and _is_linear(module):
            bnb = type(module).__name__ in ("Linear4bit", "Linear8bitLt")
            total += bnb_bytes(module) if bnb else storage_bytes(module)
    return total


def _is_linear(module: nn.Module) -> bool:
    # nn.Linear subclasses included (bitsandbytes' Linear4bit and Linear8bitLt are ones).
    return isinstance(module, nn.Linear) or type(module).__name__ == "QuantLinear"
