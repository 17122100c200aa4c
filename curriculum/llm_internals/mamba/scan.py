"""The selective scan, per head h with a scalar decay A_h < 0 (Mamba-2's simplification):

    H_t = exp(Δ_t A) · H_{t-1} + (Δ_t x_t) ⊗ B_t        H_t: (head_dim, n) per head
    y_t = H_t · C_t + D · x_t

Δ (one step size per head), B and C depend on the input: the "selective" part, which lets the
state keep or drop each token and stops the recurrence from being a fixed convolution.

Shapes: x (batch, L, heads, head_dim); delta (batch, L, heads); A and D (heads,);
B and C (batch, L, n); optional initial state h0 (batch, heads, head_dim, n).

``selective_scan_reference`` walks the sequence one step at a time: obviously right, slow.
``selective_scan`` is the chunked form: with S_t the running sum of Δ·A inside a chunk, the
decay from step s to step t is exp(S_t - S_s), so

  * inside a chunk, y = (decay-masked C Bᵀ) (Δx): one T × T matrix per head, a matmul;
  * each chunk's final state is Σ_s exp(S_T - S_s) (Δ_s x_s) ⊗ B_s;
  * a short pass over the chunks carries states forward; each position adds
    exp(S_t) · (state entering its chunk) · C_t.

The work is O(L · T) for chunk size T, linear in the sequence length, and no tensor ever
holds a state per position (the full (L, head_dim, n) history is what makes a naive
parallel scan memory-bound).
"""

from __future__ import annotations

import torch


def selective_scan_reference(x, delta, A, B, C, D, h0=None):
    """One step at a time. Returns y (batch, L, heads, head_dim) and the last state."""
    batch, length, heads, head_dim = x.shape
    h = x.new_zeros(batch, heads, head_dim, B.size(-1)) if h0 is None else h0
    ys = []
    for t in range(length):
        decay = torch.exp(delta[:, t] * A)[:, :, None, None]  # (batch, heads, 1, 1)
        inject = (delta[:, t, :, None] * x[:, t]).unsqueeze(-1) * B[:, t, None, None, :]
        h = decay * h + inject
        ys.append(torch.einsum("bhpn,bn->bhp", h, C[:, t]))
    return torch.stack(ys, dim=1) + x * D[:, None], h


def _segment_sums(log_decay: torch.Tensor) -> torch.Tensor:
    """(..., T) running log-decays -> (..., T, T) with [t, s] = S_t - S_s for s <= t and -inf
    above the diagonal (no influence from the future)."""
    cumulative = log_decay.cumsum(-1)
    diff = cumulative[..., :, None] - cumulative[..., None, :]
    steps = log_decay.size(-1)
    causal = torch.ones(steps, steps, dtype=torch.bool, device=log_decay.device).tril()
    return diff.masked_fill(~causal, float("-inf"))


def selective_scan(x, delta, A, B, C, D, h0=None, chunk: int = 32):
    """Chunked scan; equal to ``selective_scan_reference`` up to rounding."""
    batch, length, heads, head_dim = x.shape
    pad = (-length) % chunk
    if pad:  # Δ = 0 (no decay, no input) on padded steps: they change nothing before them
        x = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad))
        delta = torch.nn.functional.pad(delta, (0, 0, 0, pad))
        B = torch.nn.functional.pad(B, (0, 0, 0, pad))
        C = torch.nn.functional.pad(C, (0, 0, 0, pad))
    chunks = (length + pad) // chunk
    xs = (delta.unsqueeze(-1) * x).reshape(batch, chunks, chunk, heads, head_dim)
    Bc = B.reshape(batch, chunks, chunk, -1)
    Cc = C.reshape(batch, chunks, chunk, -1)
    log_decay = (delta * A).reshape(batch, chunks, chunk, heads).permute(0, 3, 1, 2)
    cumulative = log_decay.cumsum(-1)  # (batch, heads, chunks, T): S_t

    # Inside chunks: y_t = Σ_{s≤t} exp(S_t - S_s) (C_t · B_s) Δ_s x_s.
    decay = torch.exp(_segment_sums(log_decay))  # (batch, heads, chunks, T, T)
    scores = torch.einsum("bctn,bcsn->bcts", Cc, Bc)
    y = torch.einsum("bhcts,bcts,bcshp->bcthp", decay, scores, xs)

    # Each chunk's own final state, from a zero start.
    to_end = torch.exp(cumulative[..., -1:] - cumulative)  # (batch, heads, chunks, T)
    chunk_states = torch.einsum("bhcs,bcshp,bcsn->bchpn", to_end, xs, Bc)

    # Carry states across chunks: a sequential pass over chunks, not positions.
    carried = x.new_zeros(batch, heads, head_dim, B.size(-1)) if h0 is None else h0
    chunk_decay = torch.exp(cumulative[..., -1])  # (batch, heads, chunks)
    entering = []
    for c in range(chunks):
        entering.append(carried)
        carried = chunk_decay[:, :, c, None, None] * carried + chunk_states[:, c]
    entering = torch.stack(entering, dim=1)  # (batch, chunks, heads, head_dim, n)
    y = y + torch.einsum("bhct,bctn,bchpn->bcthp", torch.exp(cumulative), Cc, entering)

    y = y.reshape(batch, chunks * chunk, heads, head_dim)[:, :length]
    return y + x[:, :length] * D[:, None], carried
