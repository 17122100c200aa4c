"""A small Mamba language model: embeddings, residual blocks of RMSNorm + selective SSM, a final
norm and an output head tied to the embeddings. No attention and no position embeddings: the
recurrence orders the tokens, and generation carries a fixed-size state instead of a KV cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from curriculum.llm_internals.gpt.model import adamw_decaying_matrices, filter_probs
from curriculum.llm_internals.mamba.scan import selective_scan


@dataclass
class MambaConfig:
    vocab_size: int = 79
    block_size: int = 128  # training context; the model itself has no length limit
    d_model: int = 128
    n_layer: int = 7  # 7 × 128 wide ≈ the GPT's 4 × 128 in parameters
    d_state: int = 32
    expand: int = 2
    head_dim: int = 32
    d_conv: int = 4
    chunk: int = 32

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def heads(self) -> int:
        return self.d_inner // self.head_dim


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MambaBlock(nn.Module):
    """in_proj -> (x, gate z); x: causal depthwise conv, SiLU, selective SSM; y · SiLU(z);
    out_proj. Δ, B and C are projections of x itself: the state keeps or forgets per token."""

    def __init__(self, config: MambaConfig) -> None:
        super().__init__()
        self.config = config
        inner, heads = config.d_inner, config.heads
        self.in_proj = nn.Linear(config.d_model, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, config.d_conv, groups=inner, padding=config.d_conv - 1)
        self.x_proj = nn.Linear(inner, heads + 2 * config.d_state, bias=False)
        # A_h = -exp(A_log) stays negative (a decay); heads start with rates from 1 to 16.
        self.A_log = nn.Parameter(torch.log(torch.linspace(1, 16, heads)))
        self.D = nn.Parameter(torch.ones(heads))
        # Δ starts log-uniform in [1e-3, 1e-1]; the bias is softplus⁻¹ of it.
        dt = torch.exp(torch.rand(heads) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.out_proj = nn.Linear(inner, config.d_model, bias=False)

    def _ssm_inputs(self, x: torch.Tensor):
        config = self.config
        dt, B, C = self.x_proj(x).split([config.heads, config.d_state, config.d_state], dim=-1)
        delta = F.softplus(dt + self.dt_bias)
        heads = x.reshape(*x.shape[:-1], config.heads, config.head_dim)
        return heads, delta, -torch.exp(self.A_log), B, C

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        x, z = self.in_proj(u).chunk(2, dim=-1)
        x = self.conv(x.transpose(1, 2))[..., : u.size(1)].transpose(1, 2)  # causal: crop
        heads, delta, A, B, C = self._ssm_inputs(F.silu(x))
        y, _ = selective_scan(heads, delta, A, B, C, self.D, chunk=self.config.chunk)
        return self.out_proj(y.flatten(-2) * F.silu(z))

    def step(self, u: torch.Tensor, state: dict) -> torch.Tensor:
        """One token (batch, d_model) in, one out; ``state`` holds the last d_conv - 1 conv
        inputs and the SSM state, the same size whatever the length so far."""
        x, z = self.in_proj(u).chunk(2, dim=-1)
        window = torch.cat([state["conv"], x.unsqueeze(-1)], dim=-1)  # (batch, inner, d_conv)
        state["conv"] = window[..., 1:]
        x = F.silu((window * self.conv.weight.squeeze(1)).sum(-1) + self.conv.bias)
        heads, delta, A, B, C = self._ssm_inputs(x)
        decay = torch.exp(delta * A)[..., None, None]
        inject = (delta.unsqueeze(-1) * heads).unsqueeze(-1) * B[:, None, None, :]
        state["ssm"] = decay * state["ssm"] + inject
        y = torch.einsum("bhpn,bn->bhp", state["ssm"], C) + heads * self.D[:, None]
        return self.out_proj(y.flatten(-2) * F.silu(z))

    def empty_state(self, batch: int, like: torch.Tensor) -> dict:
        config = self.config
        return {
            "conv": like.new_zeros(batch, config.d_inner, config.d_conv - 1),
            "ssm": like.new_zeros(batch, config.heads, config.head_dim, config.d_state),
        }


class Residual(nn.Module):
    def __init__(self, config: MambaConfig) -> None:
        super().__init__()
        self.norm = RMSNorm(config.d_model)
        self.mixer = MambaBlock(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(self.norm(x))


class MambaLM(nn.Module):
    def __init__(self, config: MambaConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.layers = nn.ModuleList(Residual(config) for _ in range(config.n_layer))
        self.norm = RMSNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.embedding.weight  # tied, as in the GPT
        nn.init.normal_(self.embedding.weight, std=0.02)
        for layer in self.layers:  # residual branches start small, as GPT-2 does
            nn.init.normal_(layer.mixer.out_proj.weight, std=0.02 / math.sqrt(2 * config.n_layer))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None):
        x = self.embedding(ids)
        for layer in self.layers:
            x = layer(x)
        logits = self.head(self.norm(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss

    def configure_optimizer(self, lr: float, weight_decay: float, betas=(0.9, 0.95)):
        """The GPT's AdamW: no decay on A_log, D, the Δ biases or the norms (all vectors)."""
        return adamw_decaying_matrices(self, lr, weight_decay, betas)

    def step_logits(self, token: torch.Tensor, states: list[dict]) -> torch.Tensor:
        x = self.embedding(token)
        for layer, state in zip(self.layers, states, strict=True):
            x = x + layer.mixer.step(layer.norm(x), state)
        return self.head(self.norm(x))

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Recurrent decoding: the prompt is fed token by token into the states, then each new
        token costs the same whatever the length so far."""
        states = [
            layer.mixer.empty_state(ids.size(0), self.embedding.weight) for layer in self.layers
        ]
        for t in range(ids.size(1)):
            logits = self.step_logits(ids[:, t], states)
        for _ in range(new_tokens):
            probs = filter_probs(logits / max(temperature, 1e-8), top_k, top_p)
            next_id = torch.multinomial(probs, 1, generator=generator)
            ids = torch.cat([ids, next_id], dim=1)
            logits = self.step_logits(next_id[:, 0], states)
        return ids
