"""bitsandbytes' CPU path as a library baseline: NF4 (4-bit NormalFloat, blocks of 64 with a
float32 absmax each) and LLM.int8() (per-row absmax int8, outlier columns above 6.0 kept in
float), swapped in for the same nn.Linear layers that we quantize ourselves."""

from __future__ import annotations

import logging

import torch
from torch import nn

from curriculum.quantization.quantization.quant_linear import set_module


def to_bnb(model: nn.Module, names: list[str], kind: str) -> nn.Module:
    """Replace each named nn.Linear in place by bitsandbytes' ``nf4`` or ``int8`` layer; the
    weights are quantized when the parameter is moved to its device (here the CPU)."""
    import bitsandbytes as bnb

    # Every int8 call would warn that float32 inputs are cast to float16 (its CPU path).
    logging.getLogger("bitsandbytes.autograd._functions").setLevel(logging.ERROR)
    for name in names:
        linear = model.get_submodule(name)
        weight = linear.weight.data.float()
        has_bias = linear.bias is not None
        if kind == "nf4":
            layer = bnb.nn.Linear4bit(linear.in_features, linear.out_features, bias=has_bias,
                                      compute_dtype=torch.float32, quant_type="nf4")  # fmt: skip
            layer.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4")
        elif kind == "int8":
            layer = bnb.nn.Linear8bitLt(linear.in_features, linear.out_features, bias=has_bias,
                                        has_fp16_weights=False, threshold=6.0)  # fmt: skip
            layer.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
        else:
            raise ValueError(f"bitsandbytes kind {kind!r}: nf4 or int8")
        if has_bias:
            layer.bias = nn.Parameter(linear.bias.data.float(), requires_grad=False)
        set_module(model, name, layer.to("cpu"))
    return model


def bnb_bytes(layer: nn.Module) -> int:
    """Bytes a bitsandbytes layer stores, including the scales it keeps outside parameters
    (NF4's quant_state absmax, int8's per-row SCB)."""
    total = sum(p.numel() * p.element_size() for p in layer.parameters())
    state = getattr(layer.weight, "quant_state", None)
    if state is not None:
        total += state.absmax.numel() * state.absmax.element_size()
        if getattr(state, "state2", None) is not None:  # double quantization
            total += state.state2.absmax.numel() * state.state2.absmax.element_size()
    scb = getattr(layer.weight, "SCB", None)
    if scb is not None:
        total += scb.numel() * scb.element_size()
    return total
