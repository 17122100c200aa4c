"""QuantLinear: a Linear layer that stores packed integer weights and dequantizes per matmul.

Storage per weight matrix (out, in) with groups of g input columns:
- codes: uint8, two per byte for 4 bits ((out, in/2) bytes) or one per byte for 8 bits;
- scales: float16, (out, in/g); zero points: uint8, (out, in/g); bias (if any) float32.

So int4 with g = 128 costs 4 + (16 + 8) / 128 = 4.19 bits per weight. The forward pass
rebuilds the float32 matrix, multiplies and drops it: memory at rest is the packed size, at
the price of an unpack per call (no fused int4 kernel on CPU here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from curriculum.quantization.quantization.primitives import (
    GroupQuant,
    pack_int4,
    rtn_groupwise,
    unpack_int4,
)


class QuantLinear(nn.Module):
    def __init__(self, quant: GroupQuant, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        if quant.bits not in (4, 8):
            raise ValueError("QuantLinear stores 4- or 8-bit codes")
        self.bits, self.group_size = quant.bits, quant.group_size
        self.out_features, self.in_features = quant.codes.shape
        codes = quant.codes.to(torch.uint8)
        self.register_buffer("qweight", pack_int4(codes) if self.bits == 4 else codes)
        self.register_buffer("scales", quant.scales.to(torch.float16))
        self.register_buffer("zeros", quant.zeros.to(torch.uint8))
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    @classmethod
    def from_linear(cls, linear: nn.Linear, bits: int = 4, group_size: int | None = 128):
        """Round-to-nearest; ``group_size=None`` is one group per row (per-channel)."""
        group = group_size or linear.in_features
        return cls(rtn_groupwise(linear.weight.detach(), bits, group), linear.bias)

    def codes(self) -> torch.Tensor:
        return unpack_int4(self.qweight) if self.bits == 4 else self.qweight

    def dequantized_weight(self) -> torch.Tensor:
        quant = GroupQuant(
            self.codes(), self.scales.float(), self.zeros.float(), self.bits, self.group_size
        )
        return quant.dequantize()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dequantized_weight().to(x.dtype), self.bias)

    def storage_bytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self.buffers())

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bits={self.bits}, group_size={self.group_size}"
        )


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule at dotted path ``name`` (e.g. ``layers.3.mlp.up_proj``)."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def quantize_linears_rtn(
    model: nn.Module, names: list[str], bits: int, group_size: int | None
) -> nn.Module:
    """Swap each named nn.Linear for its round-to-nearest QuantLinear, in place."""
    for name in names:
        set_module(
            model, name, QuantLinear.from_linear(model.get_submodule(name), bits, group_size)
        )
    return model


def storage_bytes(model: nn.Module) -> int:
    """Bytes of every parameter and buffer as stored (a tied matrix counted once)."""
    tensors = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    return sum(t.numel() * t.element_size() for t in tensors.values())
