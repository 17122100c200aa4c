"""``ascent learn attention``: attention from torch ops, checked against PyTorch's kernels."""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import Progress

from curriculum.foundations._report import Report, new_figure, track
from curriculum.llm_internals.attention import attention as att

# (batch..., length, head size): one head, several heads, a single query row, wide heads.
SHAPES = [(1, 4, 8), (2, 3, 16, 32), (4, 8, 64, 64), (5, 1, 7, 64), (2, 4, 1, 16)]
SENTENCE = "to be, or not to be"


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    """Check attention against torch, plot attention maps, time ours against SDPA."""
    report = Report(out, "Attention from scratch")
    report.text(
        f"PyTorch {torch.__version__}, CPU, one thread. `attention.py` builds "
        "softmax(q kᵀ / √d) v from a matmul, a masked fill and a softmax written by hand "
        "(shifted by the row maximum, so exp cannot overflow); the causal mask is a lower "
        "triangle of booleans; multi-head attention is a reshape of one fused q/k/v "
        "projection into (batch, heads, T, head size), so all heads run in one batched matmul."
    )
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    sections = (_sdpa_section, _multihead_section, _scaling_section, _map_section, _timing_section)
    try:
        for section in track(progress, sections, "sections"):
            section(report, quick)
    finally:
        torch.set_num_threads(previous)
    return report.write()


def _sdpa_section(report: Report, quick: bool) -> None:
    rows, worst = [], {"float64": 0.0, "float32": 0.0}
    for shape in SHAPES:
        for causal in (False, True):
            gaps = {
                name: att.max_gap_against_torch(shape, causal, dtype)
                for name, dtype in (("float64", torch.float64), ("float32", torch.float32))
            }
            for name, gap in gaps.items():
                worst[name] = max(worst[name], gap)
            rows.append((shape, causal, f"{gaps['float64']:.1e}", f"{gaps['float32']:.1e}"))
    report.section(
        "Against F.scaled_dot_product_attention",
        "Random q, k, v of each shape; the largest absolute difference between our output and "
        "`torch.nn.functional.scaled_dot_product_attention` (with `is_causal` for the causal "
        "rows). Float64 agrees to a few ulps; float32 to a few units of its 1.2e-7 precision, "
        "the kernels only adding in a different order.",
    )
    report.table(["shape (..., L, d)", "causal", "float64 gap", "float32 gap"], rows)
    report.results["sdpa_max_gap"] = worst


def _multihead_section(report: Report, quick: bool) -> None:
    torch.manual_seed(0)
    ours = att.MultiHeadAttention(64, 8).double()
    theirs = att.copy_into_torch(ours)
    x = torch.randn(3, 20, 64, dtype=torch.float64)
    gaps = {}
    with torch.no_grad():
        for causal in (False, True):
            mask = ~att.causal_mask(20) if causal else None  # nn.MHA: True = forbidden
            expected, _ = theirs(x, x, x, attn_mask=mask, need_weights=False)
            gaps["causal" if causal else "full"] = (ours(x, causal) - expected).abs().max().item()
    report.section(
        "Multi-head attention against nn.MultiheadAttention",
        "64 dimensions, 8 heads, batch 3 × 20 tokens, float64, our weights copied into "
        "`nn.MultiheadAttention` (its `in_proj_weight` is exactly our fused q/k/v matrix). "
        "Note the opposite mask conventions: SDPA's boolean mask says where a query *may* "
        "look, `nn.MultiheadAttention`'s says where it may *not*.",
    )
    report.table(["mask", "max gap"], [(name, f"{gap:.1e}") for name, gap in gaps.items()])
    report.results["multihead_max_gap"] = gaps


def _scaling_section(report: Report, quick: bool) -> None:
    generator = torch.Generator().manual_seed(1)
    rows, top = [], {}
    for dim in (16, 64, 256, 1024):
        q = torch.randn(256, 32, dim, generator=generator, dtype=torch.float64)
        k = torch.randn(256, 32, dim, generator=generator, dtype=torch.float64)
        scaled = att.attention_weights(q, k).amax(-1).mean().item()
        raw = att.softmax(q @ k.transpose(-2, -1)).amax(-1).mean().item()
        top[dim] = {"scaled": scaled, "unscaled": raw}
        rows.append((dim, f"{raw:.3f}", f"{scaled:.3f}"))
    report.section(
        "Why divide by √d",
        "With unit-variance q and k, q·k has variance d. Without the 1/√d the softmax of 32 "
        "scores turns into a near one-hot as d grows (its gradient vanishes); with it the "
        "largest weight stays the same whatever the head size. Mean largest weight per row:",
    )
    report.table(["head size d", "softmax(q kᵀ)", "softmax(q kᵀ / √d)"], rows)
    report.results["largest_weight"] = top


def _map_section(report: Report, quick: bool) -> None:
    torch.manual_seed(3)
    chars = sorted(set(SENTENCE))
    ids = torch.tensor([chars.index(c) for c in SENTENCE])
    length = len(SENTENCE)
    # Token embedding + a sinusoid of the position: equal letters get similar queries and keys.
    embed = torch.randn(len(chars), 32)
    position = torch.arange(length)[:, None] * torch.linspace(0.05, 0.5, 32)[None]
    x = (embed[ids] + 0.5 * torch.sin(position))[None]
    mha = att.MultiHeadAttention(32, 4)
    with torch.no_grad():
        mha.qkv.weight[:32] = mha.qkv.weight[32:64]  # queries = keys: each token seeks its kind
        mha.qkv.weight *= 3
        _, full = mha(x, causal=False, return_weights=True)
        _, causal = mha(x, causal=True, return_weights=True)
    figure, axes = new_figure(11, 5.6, nrows=1, ncols=2)
    labels = ["␣" if c == " " else c for c in SENTENCE]
    for ax, weights, title in ((axes[0], full, "no mask"), (axes[1], causal, "causal mask")):
        ax.imshow(weights[0, 0].numpy(), cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(length), labels)
        ax.set_yticks(range(length), labels)
        ax.set_title(f"head 0, {title}")
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query")
    report.section(
        "Attention maps",
        f'One head of a 4-head layer over the characters of "{SENTENCE}", with queries made '
        "equal to keys so that each character looks for its own kind. Rows sum to 1. The "
        "causal mask zeroes everything above the diagonal: the first token can only attend to "
        "itself, and each later one spreads its weight over the past only.",
    )
    report.figure(figure, "attention_maps", "attention weights, full and causal")
    upper = torch.triu(causal[0], diagonal=1).abs().max().item()
    report.results["causal_weight_above_diagonal"] = upper


def _timing_section(report: Report, quick: bool) -> None:
    lengths = (64, 256) if quick else (64, 256, 1024)
    rows, speed = [], {}
    for length in lengths:
        q, k, v = torch.randn(3, 1, 8, length, 64).unbind(0)
        ours = _best_time(att.scaled_dot_product_attention, q, k, v, causal=True)
        theirs = _best_time(F.scaled_dot_product_attention, q, k, v, is_causal=True)
        speed[length] = ours / theirs
        rows.append((length, f"{ours * 1e3:.2f}", f"{theirs * 1e3:.2f}", f"{ours / theirs:.2f}"))
    report.section(
        "Time: ours against SDPA",
        "8 heads of 64, float32, causal, one thread, best of 5. Ours materializes the whole "
        "T × T score matrix, then the mask, then the softmax, each a pass over memory; the "
        "fused kernel works in blocks and skips the masked half. The gap grows with T.",
    )
    report.table(["T", "ours (ms)", "SDPA (ms)", "ours / SDPA"], rows)
    report.results["time_ratio_ours_over_sdpa"] = speed


def _best_time(function, *args, repeats: int = 5, **kwargs) -> float:
    function(*args, **kwargs)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best
