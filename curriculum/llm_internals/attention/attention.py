"""Attention from plain tensor operations: matmul, a masked fill, a hand-written softmax.

Shapes follow ``torch.nn.functional.scaled_dot_product_attention``: queries (..., L, d),
keys (..., S, d), values (..., S, d_v); the leading dimensions (batch, heads) broadcast.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, shifted by the row maximum so exp never overflows."""
    shifted = scores - scores.amax(dim=-1, keepdim=True)
    weights = shifted.exp()
    return weights / weights.sum(dim=-1, keepdim=True)


def causal_mask(length: int, source_length: int | None = None) -> torch.Tensor:
    """True where query i may look at key j, i.e. j <= i (top-left aligned, as torch's)."""
    source_length = length if source_length is None else source_length
    return torch.ones(length, source_length, dtype=torch.bool).tril()


def attention_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    causal: bool = False,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """softmax(q kᵀ / √d) with forbidden positions set to -inf before the softmax.

    ``mask`` is boolean, True = may attend (the convention of ``F.scaled_dot_product_attention``).
    Dividing by √d keeps the scores' variance near 1 whatever the head size, so the softmax
    does not saturate into a one-hot at initialization.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if causal:
        allowed = causal_mask(q.size(-2), k.size(-2)).to(q.device)
        scores = scores.masked_fill(~allowed, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return softmax(scores)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each query's output is the attention-weighted average of the values."""
    return attention_weights(q, k, causal, mask) @ v


class MultiHeadAttention(nn.Module):
    """Self-attention with ``heads`` heads of size dim / heads, one fused q/k/v projection.

    The heads are a reshape, not a loop: (B, T, dim) -> (B, heads, T, head_dim), attention
    runs on all heads at once through broadcasting, and the heads are concatenated back
    before the output projection.
    """

    def __init__(self, dim: int, heads: int, bias: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        return x.view(batch, length, self.heads, dim // self.heads).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, causal: bool = True, return_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        batch, length, dim = x.shape
        q, k, v = (self.split_heads(part) for part in self.qkv(x).split(dim, dim=-1))
        weights = attention_weights(q, k, causal=causal)
        merged = (weights @ v).transpose(1, 2).reshape(batch, length, dim)
        out = self.proj(merged)
        return (out, weights) if return_weights else out


def copy_into_torch(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    """An ``nn.MultiheadAttention`` holding our weights: its in_proj is our fused qkv."""
    dim = ours.proj.in_features
    theirs = nn.MultiheadAttention(dim, ours.heads, bias=ours.qkv.bias is not None)
    theirs = theirs.to(dtype=ours.qkv.weight.dtype, device=ours.qkv.weight.device)
    theirs.batch_first = True
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.qkv.weight)
        theirs.out_proj.weight.copy_(ours.proj.weight)
        if ours.qkv.bias is not None:
            theirs.in_proj_bias.copy_(ours.qkv.bias)
            theirs.out_proj.bias.copy_(ours.proj.bias)
    return theirs


def max_gap_against_torch(
    shape: tuple[int, ...],
    causal: bool,
    dtype: torch.dtype = torch.float64,
    source_length: int | None = None,
    seed: int = 0,
) -> float:
    """Largest |ours - F.scaled_dot_product_attention| on random q, k, v of ``shape``.

    ``shape`` is (..., L, d); keys and values get ``source_length`` rows (default L).
    """
    generator = torch.Generator().manual_seed(seed)
    *lead, length, dim = shape
    source_length = length if source_length is None else source_length
    q = torch.randn(*lead, length, dim, generator=generator, dtype=dtype)
    k = torch.randn(*lead, source_length, dim, generator=generator, dtype=dtype)
    v = torch.randn(*lead, source_length, dim, generator=generator, dtype=dtype)
    ours = scaled_dot_product_attention(q, k, v, causal=causal)
    theirs = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return (ours - theirs).abs().max().item()
