"""GPTQ over a whole model, one transformer block at a time.

1. Run the calibration batches through the model until the first block, and keep what the
   block receives (hidden states plus any extra arguments: masks, rotary embeddings...).
2. For each block: hooks on its nn.Linear layers accumulate each layer's Hessian while the
   stored inputs go through the (still float) block; every linear is then quantized with
   GPTQ and swapped for a QuantLinear; the inputs go through the block again, now
   quantized, and its outputs become the next block's inputs. Later blocks thus see, and
   compensate for, the errors of the earlier ones, as at inference.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from curriculum.quantization.quantization.gptq import GPTQConfig, HessianAccumulator, gptq_quantize
from curriculum.quantization.quantization.quant_linear import QuantLinear, set_module

logger = logging.getLogger(__name__)


class _Stop(Exception):
    """Raised by the hook on the first block: nothing past it needs computing."""


@dataclass
class BlockInputs:
    """What one calibration batch hands to a block: hidden states and the other arguments."""

    hidden: torch.Tensor
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def capture_block_inputs(
    model: nn.Module,
    first_block: nn.Module,
    batches: Iterable[torch.Tensor],
    forward: Callable[[nn.Module, torch.Tensor], Any],
) -> list[BlockInputs]:
    captured: list[BlockInputs] = []

    def hook(_module, args, kwargs):
        if args:
            captured.append(BlockInputs(args[0].detach(), args[1:], dict(kwargs)))
        else:
            rest = {k: v for k, v in kwargs.items() if k != "hidden_states"}
            captured.append(BlockInputs(kwargs["hidden_states"].detach(), (), rest))
        raise _Stop

    handle = first_block.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        for batch in batches:
            with contextlib.suppress(_Stop):
                forward(model, batch)
    finally:
        handle.remove()
    return captured


def _run_block(block: nn.Module, item: BlockInputs) -> torch.Tensor:
    out = block(item.hidden, *item.args, **item.kwargs)
    return out[0] if isinstance(out, tuple) else out


def linear_names(module: nn.Module) -> list[str]:
    return [name for name, child in module.named_modules() if isinstance(child, nn.Linear)]


@torch.no_grad()
def gptq_sequential(
    model: nn.Module,
    blocks: Sequence[nn.Module],
    batches: Iterable[torch.Tensor],
    forward: Callable[[nn.Module, torch.Tensor], Any],
    config: GPTQConfig,
    on_block: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Quantize every nn.Linear inside ``blocks`` in place (QuantLinear); return per-layer
    relative output errors ||WX - ŴX||² / ||WX||² on the calibration inputs."""
    model.eval()
    start = time.perf_counter()
    inputs = capture_block_inputs(model, blocks[0], batches, forward)
    errors: dict[str, float] = {}
    for index, block in enumerate(blocks):
        names = linear_names(block)
        hessians = {
            name: HessianAccumulator(block.get_submodule(name).in_features) for name in names
        }
        handles = [
            block.get_submodule(name).register_forward_hook(
                lambda _m, args, _out, acc=hessians[name]: acc.add(args[0])
            )
            for name in names
        ]
        for item in inputs:
            _run_block(block, item)
        for handle in handles:
            handle.remove()
        for name in names:
            linear = block.get_submodule(name)
            if not torch.isfinite(hessians[name].hessian).all():
                logger.warning("block %d %s: the calibration Hessian is not finite", index, name)
            quant = gptq_quantize(linear.weight, hessians[name].hessian, config)
            errors[f"{index}.{name}"] = relative_error(
                linear.weight, quant.dequantize(), hessians[name].hessian
            )
            if not errors[f"{index}.{name}"] < 0.1:  # NaN included: say where it happened
                logger.warning("block %d %s: relative output error %s", index, name,
                               errors[f"{index}.{name}"])  # fmt: skip
            set_module(block, name, QuantLinear(quant, linear.bias))
        for item in inputs:
            item.hidden = _run_block(block, item)
        logger.info(
            "GPTQ block %d/%d done, %.0f s", index + 1, len(blocks), time.perf_counter() - start
        )
        if on_block:
            on_block(index)
    return errors


def relative_error(weight: torch.Tensor, approx: torch.Tensor, hessian: torch.Tensor) -> float:
    """||(W - Ŵ)X||² / ||WX||² from the Hessian alone: ||AX||² = tr(A (XXᵀ) Aᵀ)."""
    diff = (weight.double() - approx.double()) @ hessian.double()
    full = weight.double() @ hessian.double()
    num = (diff * (weight.double() - approx.double())).sum()
    den = (full * weight.double()).sum()
    return float(num / den)
