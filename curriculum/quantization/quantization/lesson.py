"""``ascent learn quantization``: int8 and int4 from scratch, GPTQ, and a model compared.

Sections: int8 round trips (absmax vs zero-point, per tensor vs per channel); int4 group
sizes; GPTQ against round-to-nearest on a toy layer with correlated inputs; then the
curriculum's char-level GPT quantized every way (ours, bitsandbytes). The same comparison on
Qwen2.5-Coder-0.5B, with llama.cpp's types, is ``benchmarks/curriculum_quantization.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from rich.progress import Progress

from curriculum.foundations._report import Report, new_figure
from curriculum.quantization.quantization import compare, gpt_subject
from curriculum.quantization.quantization.gptq import GPTQConfig, HessianAccumulator, gptq_quantize
from curriculum.quantization.quantization.primitives import (
    absmax_dequantize,
    absmax_quantize,
    rtn_groupwise,
    zeropoint_dequantize,
    zeropoint_quantize,
)
from curriculum.quantization.quantization.tables import add_comparison

PAPER_ANCHOR = (
    "For scale, the GPTQ paper (Frantar et al., 2022, table 3) reports OPT-125M on WikiText2: "
    "fp16 27.65, RTN 4-bit 37.28, GPTQ 4-bit 31.12 perplexity (per-channel, no groups)."
)


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    from curriculum.mlops.tracking import tracked_run

    report = Report(out, "Quantization from scratch: int8, int4, GPTQ")
    torch.manual_seed(0)
    _int8_section(report)
    _group_section(report)
    _toy_gptq_section(report)
    config = gpt_subject.TINY if quick else gpt_subject.SMALL
    group = 64 if quick else 128
    params = {"model": "curriculum char GPT", "train_steps": config.max_steps,
              "group_size": group, "quick": quick}  # fmt: skip
    with tracked_run(
        "quantization", params=params, tags={"command": "ascent learn quantization"}
    ) as run_:
        subject = gpt_subject.subject(
            config, calibration=8 if quick else 64, evaluation=8 if quick else 64
        )
        rows = compare.compare(subject, variants(group), progress)
        for row in rows:
            run_.log_metrics({f"{_key(row.variant)}_ppl": row.perplexity,
                              f"{_key(row.variant)}_bytes": row.linear_bytes})  # fmt: skip
        report.section(
            "The curriculum GPT, quantized",
            f"{subject.name}. Calibration: {len(subject.calibration)} training windows of "
            f"{subject.calibration.shape[1]} characters; perplexity (per character) on "
            f"{len(subject.evaluation)} validation windows. Only the blocks' linear layers are "
            "quantized; embeddings, LayerNorms and the (tied) head stay float32. "
            f"Groups of {group} input columns. MLflow run `{run_.run_id}`.",
        )
        add_comparison(report, rows, "gpt_comparison", "perplexity against stored size")
    report.text(PAPER_ANCHOR)
    return report.write()


def variants(group: int) -> dict:
    return {
        "float32": None,
        "RTN int8 (per-channel)": compare.rtn(8, None),
        f"RTN int4 g{group}": compare.rtn(4, group),
        f"GPTQ int4 g{group}": compare.gptq(GPTQConfig(group_size=group, act_order=False)),
        f"GPTQ int4 g{group} act-order": compare.gptq(GPTQConfig(group_size=group)),
        "bitsandbytes nf4": compare.bnb("nf4"),
        "bitsandbytes int8": compare.bnb("int8"),
    }


def _key(variant: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in variant.lower()).strip("_")


def _int8_section(report: Report) -> None:
    # A weight-like matrix whose rows differ in scale, and a one-sided activation (ReLU).
    weights = torch.randn(64, 256) * torch.logspace(-1, 1, 64)[:, None]
    activations = torch.relu(torch.randn(64, 256))
    rows, bounds = [], []
    for label, x in (("weights, rows of 0.1..10", weights), ("ReLU activations", activations)):
        for per_channel in (False, True):
            codes, scale = absmax_quantize(x, per_channel)
            absmax = (absmax_dequantize(codes, scale) - x).abs()
            codes, zscale, zero = zeropoint_quantize(x, per_channel)
            zp = (zeropoint_dequantize(codes, zscale, zero) - x).abs()
            bounds += [(absmax / (scale / 2)).max().item(), (zp / (zscale / 2)).max().item()]
            rows.append([label, "per channel" if per_channel else "per tensor",
                         f"{absmax.mean():.2e}", f"{zp.mean():.2e}"])  # fmt: skip
    report.section(
        "int8: absmax against zero-point",
        "absmax: scale = max|x| / 127, codes −127..127, zero stays zero. Zero-point: the range "
        "[min, max] onto −128..127, with an integer zero point. Mean absolute round-trip "
        "error:",
    )
    report.table(["data", "scales", "absmax", "zero-point"], rows)
    report.text(
        f"Largest error over half a step, all cases: {max(bounds):.3f} (≤ 1: every value is "
        "within scale/2 of its original). Per-channel scales rescue the quiet rows of the "
        "weight matrix; zero-point halves the error on one-sided data, which absmax spends "
        "half its codes on."
    )
    report.results["int8_max_error_over_half_step"] = max(bounds)


def _group_section(report: Report) -> None:
    w = torch.randn(256, 1024) * torch.logspace(-1, 0.5, 1024)[None, :]
    rows, errors = [], {}
    for group in (32, 64, 128, 256, 1024):
        quant = rtn_groupwise(w, 4, group)
        error = ((quant.dequantize() - w).norm() / w.norm()).item()
        errors[group] = error
        bits = 4 + 24 / group  # float16 scale + uint8 zero per group
        label = f"{group}" + (" (per channel)" if group == 1024 else "")
        rows.append([label, f"{bits:.2f}", f"{error:.4f}"])
    report.section(
        "int4 round-to-nearest: the group size",
        "A 256 × 1024 matrix whose input columns differ in scale. Two codes per byte, a "
        "float16 scale and a uint8 zero point per row and group:",
    )
    report.table(["group size", "bits per weight", "relative error"], rows)
    figure, axis = new_figure(5, 3)
    axis.plot(list(errors), list(errors.values()), "o-")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("group size")
    axis.set_ylabel("relative weight error")
    report.figure(figure, "group_size", "int4 RTN error against group size")
    report.results["int4_group_errors"] = errors


def _toy_gptq_section(report: Report) -> None:
    generator = torch.Generator().manual_seed(0)
    dim = 512
    latent = torch.randn(4096, dim // 8, generator=generator)
    mix = torch.randn(dim // 8, dim, generator=generator)
    scales = torch.rand(dim, generator=generator) * 3 + 0.1
    noise = 0.1 * torch.randn(4096, dim, generator=generator)
    calibration, held_out = ((latent @ mix + noise) * scales).split([3072, 1024])
    w = torch.randn(256, dim, generator=generator)
    hessian = HessianAccumulator(dim)
    hessian.add(calibration)

    def error(approx: torch.Tensor) -> float:
        return ((held_out @ (w - approx).T).norm() / (held_out @ w.T).norm()).item()

    results = {"RTN": error(rtn_groupwise(w, 4, 128).dequantize())}
    for act_order in (False, True):
        quant = gptq_quantize(w, hessian.hessian, GPTQConfig(act_order=act_order))
        results["GPTQ act-order" if act_order else "GPTQ"] = error(quant.dequantize())
    report.section(
        "GPTQ on one layer",
        f"A 256 × {dim} layer; inputs from {dim // 8} latent factors plus noise with uneven "
        "channel scales (correlated, like real activations), 3,072 calibration tokens and "
        "1,024 held-out ones. int4, groups of 128. Relative output error ‖WX − ŴX‖ / ‖WX‖ on "
        "the held-out tokens:",
    )
    report.table(["method", "relative output error"], [[k, f"{v:.4f}"] for k, v in results.items()])
    report.results["toy_gptq"] = results
