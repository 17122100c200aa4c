"""LoRA (Hu et al., 2021): a frozen ``nn.Linear`` plus a trainable low-rank update.

``h = W x + (alpha / r) * B A dropout(x)`` with ``A`` (r x in) initialised like ``nn.Linear``
(kaiming-uniform, a = sqrt(5), as peft does) and ``B`` (out x r) zero, so training starts
from the base model exactly. Merging folds ``(alpha / r) B A`` into ``W`` for inference at no
extra cost; unmerging takes it out again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

# Qwen2 / Llama projection names: attention and MLP, as in the QLoRA recipe.
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")


class LoRALinear(nn.Module):
    """Wraps ``base`` (kept as ``self.base``, frozen) with a rank-``r`` update."""

    def __init__(
        self, base: nn.Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0,
        dtype: torch.dtype | None = None,
    ):  # fmt: skip
        """``dtype``: of A and B (default: the base weight's). A bfloat16 base trains with
        float32 adapters, so AdamW's small updates are not rounded away."""
        super().__init__()
        if r <= 0:
            raise ValueError("rank r must be positive")
        self.base = base
        self.r, self.alpha = r, alpha
        self.scaling = alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        dtype = dtype or base.weight.dtype
        device = base.weight.device
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=dtype, device=device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=dtype, device=device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        for p in base.parameters():
            p.requires_grad_(False)
        self.merged = False
        self._original: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if self.merged:
            return out
        update = self.dropout(x).to(self.lora_A.dtype) @ self.lora_A.T @ self.lora_B.T
        return out + (update * self.scaling).to(out.dtype)

    def delta(self) -> torch.Tensor:
        """The update as a full matrix, ``(alpha / r) B A``, shaped like the base weight."""
        return (self.lora_B @ self.lora_A * self.scaling).to(self.base.weight.dtype)

    @torch.no_grad()
    def merge(self, keep_original: bool = True) -> None:
        """Add the update into the base weight in place. Float addition is not invertible
        (``(w + d) - d`` may differ from ``w`` in the last bit), so by default the original is
        kept and ``unmerge`` restores it bit for bit; ``keep_original=False`` saves the memory
        and ``unmerge`` then subtracts, as peft does."""
        if self.merged:
            return
        weight = self.base.weight
        self._original = weight.detach().clone() if keep_original else None
        weight.add_(self.delta())
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if not self.merged:
            return
        weight = self.base.weight
        if self._original is not None:
            weight.copy_(self._original)
        else:
            weight.sub_(self.delta())
        self._original = None
        self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:g}, merged={self.merged}"


def inject_lora(
    model: nn.Module,
    targets: Iterable[str] = ATTENTION + MLP,
    r: int = 8,
    alpha: float = 16,
    dropout: float = 0.0,
    dtype: torch.dtype | None = None,
) -> list[str]:
    """Freeze every parameter of ``model`` and replace each ``nn.Linear`` whose attribute name
    is in ``targets`` by a ``LoRALinear``. Returns the dotted names replaced."""
    targets = set(targets)
    for p in model.parameters():
        p.requires_grad_(False)
    found = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in targets
    ]
    for name, module in found:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, LoRALinear(module, r=r, alpha=alpha, dropout=dropout, dtype=dtype))
    if not found:
        raise ValueError(f"no nn.Linear named {sorted(targets)} in the model")
    return [name for name, _ in found]


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def merge_lora(model: nn.Module, keep_original: bool = False) -> None:
    for layer in lora_layers(model).values():
        layer.merge(keep_original=keep_original)


def unmerge_lora(model: nn.Module) -> None:
    for layer in lora_layers(model).values():
        layer.unmerge()


def strip_lora(model: nn.Module) -> None:
    """Merge, then put the plain ``nn.Linear`` layers back: a model with the stock layout,
    ready for ``save_pretrained`` and a GGUF export."""
    for name, layer in lora_layers(model).items():
        layer.merge(keep_original=False)
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, layer.base)


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters, each shared tensor counted once (tied embeddings)."""
    unique = {id(p): p for p in model.parameters()}.values()
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return trainable, sum(p.numel() for p in unique)
