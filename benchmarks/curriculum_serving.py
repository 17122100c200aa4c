"""Serving Qwen2.5-Coder-0.5B: the f16 GGUF export against q8_0, q4_0 and the packaged Q4_K_M.

Runs ``ascent learn serving`` (curriculum/mlops/serving): export (once; later runs reuse the
published ``qwen2.5-coder-0.5b-{f16,q8_0,q4_0}`` artifacts), greedy agreement with
transformers, then through the LLM gateway with streaming, per model, 1, 2 and 4 concurrent
clients x 2 requests x 64 greedy tokens (EOS ignored) on a 4-slot embedded llama.cpp server.

Baseline, in the same run: the f16 export at the same concurrency. Lines per model and
concurrency: throughput (tokens/s), median time to first token, median time per token, peak
server RSS; per model: idle RSS, GGUF size, greedy agreement. The report (table + plot) is
written under ``<data_home>/learn-output/serving-benchmark``.

vLLM with a GPTQ/AWQ checkpoint runs where CUDA and vllm are available and ``--vllm-model DIR``
is given; otherwise every line carries ``vllm`` = the reason it was skipped.

``--quick``: the lesson's quick mode (a tiny random Qwen2, f16 and q4_0, 1-2 clients).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from benchmarks._common import (
    add_common_arguments,
    apply_common_arguments,
    call_quietly,
    emit,
    result,
)

logger = logging.getLogger("benchmarks.curriculum_serving")
BASELINE = "f16"


def run(quick: bool, vllm_model: Path | None = None) -> list[dict]:
    from curriculum.mlops.serving import lesson
    from curriculum.mlops.serving.vllm_bench import run_vllm, unavailable_reason
    from shared.config import get_settings

    out = get_settings().data_home / "learn-output" / "serving-benchmark"
    logger.info("report: %s", lesson.run(out, quick=quick))
    results = json.loads((out / "results.json").read_text())
    reason = unavailable_reason() or (None if vllm_model else "no --vllm-model given")
    lines = serving_lines(results, vllm=reason or "ran")
    if reason is None and vllm_model is not None:
        plan = lesson.QUICK if quick else lesson.FULL
        for row in run_vllm(vllm_model, plan.concurrencies, plan.max_tokens):
            lines.append(result(f"serving_vllm_throughput_c{row['concurrency']}",
                                row["throughput_tok_s"], "tokens/s", 0.0, **row))  # fmt: skip
    return lines


def serving_lines(results: dict, vllm: str) -> list[dict]:
    serving, exports = results["serving"], results["exports"]
    base = {run["concurrency"]: run for run in serving[BASELINE]["runs"]}
    lines = []
    for label, data in serving.items():
        context = {"model": data["model"], "variant": label, "vllm": vllm}
        for run in data["runs"]:
            c, ref = run["concurrency"], base[run["concurrency"]]
            for key, metric, unit in (
                ("throughput_tok_s", "throughput", "tokens/s"),
                ("ttft_p50_ms", "ttft_p50", "ms"),
                ("inter_token_p50_ms", "per_token_p50", "ms"),
                ("rss_peak_mb", "rss_peak", "MB"),
            ):
                lines.append(result(
                    f"serving_{metric}_c{c}", run[key], unit, ref[key], concurrency=c,
                    requests=run["requests"], completion_tokens=run["completion_tokens"], **context,
                ))  # fmt: skip
        lines.append(result("serving_rss_idle", data["rss_idle_mb"], "MB",
                            serving[BASELINE]["rss_idle_mb"], **context))  # fmt: skip
        export = exports[label]
        lines.append(result("serving_gguf_size", export["size_mb"], "MB",
                            exports[BASELINE]["size_mb"],
                            greedy_agreement=export["greedy_agreement"], **context))  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.curriculum_serving")
    add_common_arguments(parser)
    parser.add_argument("--vllm-model", type=Path, default=None,
                        help="a local GPTQ/AWQ checkpoint for vLLM (CUDA only)")  # fmt: skip
    args = parser.parse_args()
    apply_common_arguments(args)
    emit(call_quietly(lambda quick: run(quick, args.vllm_model), args.quick))


if __name__ == "__main__":
    main()
