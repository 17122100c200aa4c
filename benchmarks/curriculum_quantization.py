"""Quantizing Qwen2.5-Coder-0.5B on the CPU: perplexity, size and speed of each variant.

Model: the packaged Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF, dequantized to float32 by
transformers (the reference; so llama.cpp's Q4_K_M *is* the reference). Text: Python 3.11
standard-library modules, even-indexed files for calibration (32 windows of 256 tokens),
odd-indexed ones for evaluation (4 windows of 512 tokens); see curriculum/quantization/
quantization/qwen.py. Variants, all on the 168 linear layers of the 24 blocks (embeddings,
norms and the head stay float32): round-to-nearest int8 per channel, RTN int4 with groups of
128, GPTQ int4 g128 with act-order (ours, from scratch), the same two int4 methods per
channel (no groups: the GPTQ paper's setting), bitsandbytes NF4 and LLM.int8();
plus llama.cpp's Q8_0 and Q4_0 written by curriculum/finetuning/gguf_export.py (all matrices,
head in Q8_0) and scored through transformers. The GPTQ g128 model, once measured, is
published as ``qwen2.5-coder-0.5b-gptq-q4_1`` (Q4_1 GGUF from its codes; see curriculum/
quantization/quantization/publish.py), with this run in its provenance.

Every line's baseline is the float32 model measured in the same run. Targets: GPTQ int4 within
+10% of float32 perplexity and below RTN int4. Threads: 2 when the machine is idle at the
start (load average < 3), else 1 (on this shared 2-core machine under load a second thread
made forward passes slower); GPTQ's column loop always runs on one.

``--quick``: the curriculum's tiny char-level GPT instead (seconds), a smoke test.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import tempfile
from pathlib import Path

import torch

from benchmarks._common import main, result
from curriculum.quantization.quantization import compare, gpt_subject, qwen
from curriculum.quantization.quantization.compare import Row
from curriculum.quantization.quantization.gptq import GPTQConfig

logger = logging.getLogger("benchmarks.curriculum_quantization")

GROUP = 128
CALIBRATION, CALIBRATION_LENGTH = 32, 256
EVALUATION, EVALUATION_LENGTH = 4, 512
TARGET_VS_FLOAT = 1.10


def variants(group: int) -> dict:
    return {
        "float32": None,
        f"RTN int4 g{group}": compare.rtn(4, group),
        f"GPTQ int4 g{group} act-order": compare.gptq(GPTQConfig(group_size=group)),
        "RTN int8 per-channel": compare.rtn(8, None),
        # The GPTQ paper's own setting (one grid per output row, no groups), where round-to-
        # nearest int4 loses most and error compensation has the most to win back.
        "RTN int4 per-channel": compare.rtn(4, None),
        "GPTQ int4 per-channel act-order": compare.gptq(GPTQConfig(group_size=0)),
        "bitsandbytes nf4": compare.bnb("nf4"),
        "bitsandbytes int8": compare.bnb("int8"),
    }


def run(quick: bool, only: set[str] | None = None, with_gguf: bool = True) -> list[dict]:
    """``only``: a subset of the variants (float32 always runs: it is every line's baseline)."""
    from curriculum.mlops.tracking import tracked_run

    threads = 2 if os.getloadavg()[0] < 3 else 1
    torch.set_num_threads(threads)
    group = 64 if quick else GROUP
    params = {
        "model": "curriculum tiny GPT" if quick else qwen.MODEL,
        "calibration": f"{CALIBRATION}x{CALIBRATION_LENGTH} stdlib tokens",
        "evaluation": f"{EVALUATION}x{EVALUATION_LENGTH} stdlib tokens",
        "group_size": group,
        "bits": 4,
        "percdamp": 0.01,
        "act_order": True,
        "threads": threads,
    }
    command = "python -m benchmarks.curriculum_quantization" + (" --quick" if quick else "")
    with tracked_run("quantization-qwen", params=params, tags={"command": command}) as run_:
        if quick:
            subject = gpt_subject.subject(gpt_subject.TINY, calibration=8, evaluation=8)
        else:
            subject, _ = qwen.subject(
                CALIBRATION, CALIBRATION_LENGTH, EVALUATION, EVALUATION_LENGTH
            )

        measured: dict[str, Row] = {}

        def on_row(row: Row) -> None:  # logged as it comes: a cut-short run keeps its rows
            logger.info("row %s", json.dumps(row.as_dict()))
            key = "".join(c if c.isalnum() else "_" for c in row.variant.lower())
            run_.log_metrics({f"{key}_ppl": row.perplexity, f"{key}_bytes": row.total_bytes})
            measured[row.variant] = row

        def on_model(row: Row, model: torch.nn.Module) -> None:
            if not quick and row.variant == f"GPTQ int4 g{group} act-order":
                row.extra["published"] = _publish(run_, command, params, measured, row, model)

        chosen = {k: v for k, v in variants(group).items() if not only or k in only | {"float32"}}
        rows = compare.compare(subject, chosen, on_row=on_row, on_model=on_model)
        if not quick and with_gguf:
            with tempfile.TemporaryDirectory() as folder:
                for row in qwen.gguf_rows(
                    subject, Path(folder), ("q4_0", "q8_0"), rows[0].perplexity
                ):
                    on_row(row)
                    rows.append(row)
        lines = _lines(rows, subject.name, group)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        run_.log_metrics({"peak_rss_gb": peak})
        for line in lines:
            line.update(peak_rss_gb=round(peak, 2), mlflow_run_id=run_.run_id)
    return lines


def _publish(
    run_, command: str, params: dict, measured: dict[str, Row], row: Row, model, settings=None
) -> str:
    """Publish the GPTQ model as a Q4_1 GGUF; its metrics are this run's rows so far.
    ``settings``: where the registry is (default: the configured data home)."""
    from curriculum.quantization.quantization import publish

    metrics = {"float32_perplexity": measured["float32"].perplexity,
               "gptq_perplexity": row.perplexity, **row.extra,
               "quantize_seconds": row.quantize_seconds}  # fmt: skip
    rtn = measured.get(f"RTN int4 g{params['group_size']}")
    if rtn is not None:
        metrics["rtn_perplexity"] = rtn.perplexity
    provenance = publish.gptq_provenance(run_, command, params, metrics)
    path = publish.publish_gptq_model(model, provenance, settings=settings)
    logger.info("published %s", path)
    return path.name


def _lines(rows: list[Row], model: str, group: int) -> list[dict]:
    base = rows[0]
    by_name = {row.variant: row for row in rows}
    lines = []
    for row in rows[1:]:
        lines.append(result(
            "quantized_perplexity", row.perplexity, "perplexity", base.perplexity,
            variant=row.variant, model=model,
            linear_bytes=row.linear_bytes, total_bytes=row.total_bytes,
            float_linear_bytes=base.linear_bytes, float_total_bytes=base.total_bytes,
            forward_tokens_per_s=row.forward_tokens_per_s,
            float_forward_tokens_per_s=base.forward_tokens_per_s,
            generate_tokens_per_s=row.generate_tokens_per_s,
            float_generate_tokens_per_s=base.generate_tokens_per_s,
            quantize_seconds=row.quantize_seconds, **row.extra,
        ))  # fmt: skip
    for suffix, grouping in ((f"g{group}", f"groups of {group}"), ("per-channel", "per channel")):
        gptq = by_name.get(f"GPTQ int4 {suffix} act-order")
        rtn = by_name.get(f"RTN int4 {suffix}")
        if gptq is None or rtn is None:
            continue
        name = "gptq_int4_vs_rtn_int4_perplexity" + (
            "_per_channel" if suffix == "per-channel" else ""
        )
        lines.append(result(
            name, gptq.perplexity, "perplexity", rtn.perplexity,
            float_perplexity=base.perplexity, grouping=grouping,
            target=f"GPTQ <= {TARGET_VS_FLOAT} x float and < RTN",
            target_met=bool(gptq.perplexity <= TARGET_VS_FLOAT * base.perplexity
                            and gptq.perplexity < rtn.perplexity),
            model=model,
        ))  # fmt: skip
    return lines


if __name__ == "__main__":
    main("curriculum_quantization", run)
