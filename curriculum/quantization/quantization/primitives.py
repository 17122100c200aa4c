"""Round-to-nearest quantization from torch ops: absmax and zero-point int8, group-wise int4.

Conventions: a weight matrix is (out_features, in_features); "per channel" means one scale per
output row (a row is one output neuron, so its scale folds into that output). Integer codes
come back as plain integer tensors; ``pack_int4`` puts two 4-bit codes in each byte so that
sizes are honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# A constant row (max == min) would give scale 0 and a division by zero.
EPS = 1e-12


def _extremes(x: torch.Tensor, per_channel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(min, max) of the whole tensor, or of each row (kept as a column for broadcasting)."""
    if per_channel:
        flat = x.reshape(x.shape[0], -1)
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        return flat.amin(1).reshape(shape), flat.amax(1).reshape(shape)
    return x.min(), x.max()


def absmax_quantize(x: torch.Tensor, per_channel: bool = False):
    """Symmetric int8: scale = max|x| / 127, codes in [-127, 127]; 0 stays exactly 0.

    -128 is left unused so the grid is symmetric (+-127 steps either side of zero)."""
    low, high = _extremes(x, per_channel)
    scale = torch.maximum(high.abs(), low.abs()).clamp_min(EPS) / 127
    codes = torch.round(x / scale).clamp(-127, 127).to(torch.int8)
    return codes, scale


def absmax_dequantize(codes: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return codes.float() * scale


def zeropoint_quantize(x: torch.Tensor, per_channel: bool = False):
    """Asymmetric int8: the range [min, max] maps onto all 256 codes [-128, 127].

    The zero point is the code that stands for 0.0; it is rounded to an integer so that 0.0
    (padding, ReLU outputs) is represented exactly. One-sided data (all positive, as after a
    ReLU) then uses every code instead of half of them as absmax would."""
    low, high = _extremes(x, per_channel)
    scale = (high - low).clamp_min(EPS) / 255
    zero = torch.round(-low / scale) - 128
    codes = (torch.round(x / scale) + zero).clamp(-128, 127).to(torch.int8)
    return codes, scale, zero


def zeropoint_dequantize(codes: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor):
    return (codes.float() - zero) * scale


@dataclass
class GroupQuant:
    """Unsigned codes in [0, 2^bits - 1] for a (rows, cols) matrix, with one scale and one zero
    point per row and group of ``group_size`` consecutive input columns.

    ``scales`` and ``zeros`` are (rows, cols / group_size). Scales are float16 values (kept in
    a float32 tensor) so that what the quantizer computed is exactly what QuantLinear stores.
    """

    codes: torch.Tensor
    scales: torch.Tensor
    zeros: torch.Tensor
    bits: int
    group_size: int

    def dequantize(self) -> torch.Tensor:
        scales = self.scales.repeat_interleave(self.group_size, dim=1)
        zeros = self.zeros.repeat_interleave(self.group_size, dim=1)
        return (self.codes.float() - zeros) * scales


def minmax_params(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Asymmetric scale and zero per row of ``w`` (rows, n). The range is widened to include 0,
    as GPTQ's reference quantizer does, so a zero weight stays exactly zero."""
    maxq = 2**bits - 1
    low = w.amin(1, keepdim=True).clamp(max=0)
    high = w.amax(1, keepdim=True).clamp(min=0)
    scale = (high - low) / maxq
    # An all-zero group (GPTQ zeroes inputs that never fire) gets scale 1, and no scale may
    # round to float16 zero: either would make w / scale NaN.
    scale = torch.where(scale > 0, scale, 1.0).half().float().clamp_min(2**-24)
    zero = torch.round(-low / scale).clamp(0, maxq)
    return scale, zero


def quantize_codes(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int):
    """Codes of ``w`` on a given grid (round to nearest, clamped to the code range)."""
    return (torch.round(w / scale) + zero).clamp(0, 2**bits - 1)


def rtn_groupwise(w: torch.Tensor, bits: int = 4, group_size: int = 128) -> GroupQuant:
    """Round every weight to the nearest point of its group's grid: the baseline GPTQ beats."""
    rows, cols = w.shape
    if cols % group_size:
        raise ValueError(f"in_features {cols} is not a multiple of group_size {group_size}")
    groups = w.float().reshape(rows, cols // group_size, group_size)
    scale, zero = minmax_params(groups.reshape(-1, group_size), bits)
    codes = quantize_codes(groups.reshape(-1, group_size), scale, zero, bits)
    return GroupQuant(
        codes=codes.reshape(rows, cols).to(torch.uint8),
        scales=scale.reshape(rows, -1),
        zeros=zero.reshape(rows, -1),
        bits=bits,
        group_size=group_size,
    )


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes per byte along the last dimension: even columns in the low nibble."""
    if codes.shape[-1] % 2:
        raise ValueError("an even number of columns is needed to pack two codes per byte")
    codes = codes.to(torch.uint8)
    if int(codes.max()) > 15:
        raise ValueError("a code does not fit in 4 bits")
    return codes[..., 0::2] | (codes[..., 1::2] << 4)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    low, high = packed & 0x0F, packed >> 4
    return torch.stack([low, high], dim=-1).reshape(*packed.shape[:-1], -1)
