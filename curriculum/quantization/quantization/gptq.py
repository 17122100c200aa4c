"""GPTQ (Frantar et al., 2022) for one weight matrix, from torch ops.

Quantize the columns of W one at a time. After column i is rounded, the rows' error
(w_i - q_i) is spread over the columns not yet quantized, weighted by the inverse Hessian of
the layer's reconstruction loss ||WX - ŴX||², so later columns absorb what earlier rounding
broke. The Hessian of that loss in each row is H = 2 X Xᵀ (X: the layer's calibration inputs,
one column per token), the same for every row.

Pieces, as in the paper:
- dampening: H += percdamp · mean(diag H) · I keeps the inverse stable;
- the updates for all remaining columns only need the rows of H⁻¹ in turn, which are the
  rows of the upper Cholesky factor of H⁻¹ (a numerically stable reformulation);
- lazy batch updates: inside a block of B columns the update touches only the block; the
  rest of W gets one matrix-matrix update per block (memory-bound -> compute-bound);
- act-order: quantize columns in order of decreasing diag(H) (the inputs with most energy
  first, while there are many columns left to absorb their error), then un-permute;
- groups: one scale/zero per g input columns. In natural order a group's grid is fitted when
  the quantizer reaches its first column, on the weights as updated so far. With act-order
  the groups are "static": their grids come from the original W before any update, in the
  original column order, so the stored layout stays that of round-to-nearest (no per-column
  group index needed at inference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from curriculum.quantization.quantization.primitives import (
    GroupQuant,
    minmax_params,
    quantize_codes,
)


class HessianAccumulator:
    """Running H = (2 / n) Σ x xᵀ over the n calibration tokens seen so far.

    The 1/n keeps the numbers at the scale of one token whatever n is (the optimum of the
    least-squares problem does not change)."""

    def __init__(self, columns: int) -> None:
        # float32 as in the reference: for a 4864-wide input this product is the costliest
        # step of the whole run, and float64 would double it.
        self.hessian = torch.zeros(columns, columns)
        self.tokens = 0

    def add(self, inputs: torch.Tensor) -> None:
        x = inputs.detach().reshape(-1, inputs.shape[-1]).float()
        n = x.shape[0]
        self.hessian *= self.tokens / (self.tokens + n)
        self.tokens += n
        x = x * math.sqrt(2 / self.tokens)
        self.hessian += x.T @ x


@dataclass(frozen=True)
class GPTQConfig:
    bits: int = 4
    group_size: int = 128
    percdamp: float = 0.01
    block_size: int = 128
    act_order: bool = True


def inverse_hessian_cholesky(hessian: torch.Tensor, percdamp: float) -> torch.Tensor:
    """Upper Cholesky factor U of (H + λI)⁻¹, λ = percdamp · mean(diag H): H⁻¹ = UᵀU.

    Without forming H⁻¹: factor H "upside down" as H = R Rᵀ with R upper triangular (the
    ordinary Cholesky of H with rows and columns reversed, reversed back); then
    H⁻¹ = R⁻ᵀ R⁻¹, so U = R⁻¹, one triangular solve. Half the work of inverting H and
    factoring the inverse (the reference's route), which matters at 4864 columns on a CPU."""
    h = hessian.clone()
    h.diagonal().add_(percdamp * h.diagonal().mean())
    upper = torch.linalg.cholesky(h.flip(0, 1)).flip(0, 1)
    identity = torch.eye(h.shape[0], dtype=h.dtype)
    return torch.linalg.solve_triangular(upper, identity, upper=True)


def gptq_quantize(weight: torch.Tensor, hessian: torch.Tensor, config: GPTQConfig) -> GroupQuant:
    """Quantize ``weight`` (rows, cols) against the calibration Hessian (cols, cols).

    On one thread: the column loop is thousands of small ops, and torch's thread pool turns
    each into a synchronisation that costs 20x the work on a busy 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _gptq(weight, hessian, config)
    finally:
        torch.set_num_threads(previous)


def _gptq(weight: torch.Tensor, hessian: torch.Tensor, config: GPTQConfig) -> GroupQuant:
    # float64 for the solve: real activations have outlier channels (diag(H) spanning ten
    # orders of magnitude in Qwen), and float32 error feedback can then overflow.
    w = weight.detach().double().clone()
    h = hessian.double().clone()
    rows, cols = w.shape
    group = config.group_size or cols
    if cols % group:
        raise ValueError(f"in_features {cols} is not a multiple of group_size {group}")

    # An input that was always zero carries no information: its weights do not matter.
    dead = h.diagonal() == 0
    h[dead, dead] = 1
    w[:, dead] = 0

    # Static groups: every group's grid from the original weights, original column order
    # (replaced group by group below when not in act-order).
    grids = [minmax_params(w[:, g : g + group].float(), config.bits) for g in range(0, cols, group)]
    scales = torch.cat([s for s, _ in grids], 1)
    zeros = torch.cat([z for _, z in grids], 1)

    order = torch.arange(cols)
    if config.act_order:
        order = torch.argsort(h.diagonal(), descending=True)
        w, h = w[:, order], h[order][:, order]
    u = inverse_hessian_cholesky(h, config.percdamp)

    codes = torch.zeros(rows, cols, dtype=torch.float64)
    for start in range(0, cols, config.block_size):
        end = min(start + config.block_size, cols)
        block = w[:, start:end].clone()
        errors = torch.zeros_like(block)
        u_block = u[start:end, start:end]
        for i in range(end - start):
            column = order[start + i] // group  # the group of this column, original order
            if not config.act_order and (start + i) % group == 0:
                ahead = torch.cat([block[:, i:], w[:, end:]], 1)[:, :group]
                scales[:, column : column + 1], zeros[:, column : column + 1] = minmax_params(
                    ahead.float(), config.bits
                )
            scale = scales[:, column : column + 1].double()
            zero = zeros[:, column : column + 1].double()
            q = quantize_codes(block[:, i : i + 1], scale, zero, config.bits)
            codes[:, start + i] = q[:, 0]
            error = (block[:, i] - (q[:, 0] - zero[:, 0]) * scale[:, 0]) / u_block[i, i]
            # Spread this column's error over the rest of the block (row i of U).
            block[:, i:] -= error[:, None] * u_block[i, i:][None, :]
            errors[:, i] = error
        # Lazy batch update: the columns after the block, all at once.
        w[:, end:] -= errors @ u[start:end, end:]

    codes = codes[:, torch.argsort(order)]  # un-permute act-order
    return GroupQuant(codes.to(torch.uint8), scales, zeros, config.bits, group)
