"""``ascent learn serving``: the f16 export of Qwen2.5-Coder-0.5B against its q8_0 and q4_0
exports and the packaged Q4_K_M, served by llama.cpp through the LLM gateway: time to first
token, time per token, throughput at 1, 2 and 4 concurrent requests, server memory.

``--quick`` does the same with a tiny random Qwen2 (real vocabulary) in a temporary data home,
so that it finishes in about 30 s (2 cores, lightly loaded); its numbers only show the pipeline
works.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress

from curriculum.foundations._report import Report, fmt, new_figure, track
from curriculum.mlops.serving.exports import (
    PARITY_PROMPTS,
    Variant,
    build_and_publish,
    hf_checkpoint,
    packaged_variant,
    published_variants,
)
from curriculum.mlops.serving.measure import ModelResult, measure_model, serving_settings
from curriculum.mlops.serving.vllm_bench import unavailable_reason
from curriculum.mlops.tracking import tracking_uri
from shared.config import Settings, get_settings


@dataclass(frozen=True)
class Plan:
    rounds: int  # requests per client, one after another
    max_tokens: int  # generated per request (EOS ignored)
    parity_tokens: int
    concurrencies: tuple[int, ...] = (1, 2, 4)


FULL = Plan(rounds=2, max_tokens=64, parity_tokens=16)
# Each llama.cpp server start costs seconds: two models, parity on one, two load levels.
QUICK = Plan(rounds=1, max_tokens=16, parity_tokens=8, concurrencies=(1, 2))
QUICK_DTYPES = ("f16", "q4_0")


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = Report(out, "Serving: the original model against its quantized versions")
    plan = QUICK if quick else FULL
    if quick:
        with tempfile.TemporaryDirectory(prefix="ascent-serving-") as home:
            # Models go to a throw-away home; the run is still tracked in the usual MLflow.
            settings = get_settings().model_copy(
                update={"data_home": Path(home), "mlflow_tracking_uri": tracking_uri()}
            )
            variants = _tiny_variants(settings, Path(home), plan, progress)
            results = _measure(settings, variants, plan, progress)
    else:
        settings = get_settings()
        variants = published_variants(settings) or _real_variants(settings, plan, progress)
        results = _measure(settings, variants, plan, progress)
    write_report(report, variants, results, plan, quick)
    return report.write()


def _real_variants(settings: Settings, plan: Plan, progress: Progress | None) -> list[Variant]:
    packaged = packaged_variant(settings)
    exports = build_and_publish(
        settings, hf_checkpoint(settings), n_tokens=plan.parity_tokens, compare=[packaged],
        progress=progress,
    )  # fmt: skip
    return [*exports, packaged]


def _tiny_variants(
    settings: Settings, home: Path, plan: Plan, progress: Progress | None
) -> list[Variant]:
    from curriculum.finetuning.gguf_export import packaged_tokenizer_gguf
    from curriculum.mlops.serving.tiny import save_tiny_qwen2

    folder = home / "tiny-qwen2"
    save_tiny_qwen2(folder)
    return build_and_publish(
        settings, folder, base="tiny-qwen2", n_tokens=plan.parity_tokens,
        tokenizer_gguf=packaged_tokenizer_gguf(), base_model="tiny random Qwen2",
        dtypes=QUICK_DTYPES, parity_dtypes=QUICK_DTYPES[:1], progress=progress,
    )  # fmt: skip


def _measure(
    settings: Settings, variants: list[Variant], plan: Plan, progress: Progress | None
) -> list[ModelResult]:
    serving = serving_settings(settings, plan.concurrencies)
    return [
        asyncio.run(
            measure_model(serving, v.name, plan.concurrencies, plan.rounds, plan.max_tokens)
        )
        for v in track(progress, variants, "load-testing through the gateway")
    ]


def write_report(
    report: Report, variants: list[Variant], results: list[ModelResult], plan: Plan, quick: bool
) -> None:
    if quick:
        what = (
            "Quick mode: a tiny random Qwen2 (2 layers, width 64, Qwen2.5's vocabulary) exported "
            "at f16 and q4_0; the numbers only show that the pipeline works."
        )
    else:
        what = (
            "Model: Qwen2.5-Coder-0.5B-Instruct. The f16 export is the reference "
            '("original"): the packaged Q4_K_M weights as transformers dequantizes them, '
            "written back by `curriculum/finetuning/gguf_export.py`; q8_0 and q4_0 are exported "
            "from the same weights (q4_0 keeps the output head at Q8_0)."
        )
    report.text(
        f"{what} Every model is served by the embedded llama.cpp server (xllamacpp) and "
        "measured through the LLM gateway with streaming, greedy decoding, "
        f"{plan.max_tokens} generated tokens per request (EOS ignored), {plan.rounds} "
        f"request(s) per client, {', '.join(map(str, plan.concurrencies))} concurrent clients, "
        f"{max(plan.concurrencies)} server slots, {os.cpu_count()} CPU cores shared with other "
        "work: compare the models within this run, not with other machines."
    )
    _exports_section(report, variants, plan)
    _serving_section(report, variants, results, plan)
    reason = unavailable_reason()
    report.section(
        "vLLM with a GPTQ/AWQ model",
        f"Skipped: {reason}." if reason else "Available: run benchmarks/curriculum_serving.py "
        "with --vllm-model DIR (a local GPTQ or AWQ checkpoint).",
    )  # fmt: skip
    report.results["vllm"] = reason or "available"
    report.results["quick"] = quick


def _exports_section(report: Report, variants: list[Variant], plan: Plan) -> None:
    prompts = ", ".join(f"`{p!r}`" for p in PARITY_PROMPTS)
    report.section(
        "Exports and greedy agreement",
        f"Each model decodes the prompts {prompts} greedily in llama.cpp ({plan.parity_tokens} "
        "tokens, prompt token ids sent as ids); the column gives, per prompt, how many leading "
        "tokens equal transformers' greedy decode of the f32 weights.",
    )
    rows = []
    for v in variants:
        export = fmt(v.export_s) if v.export_s is not None else "packaged"
        agree = " / ".join(str(a) for a in v.agreement)
        agree = f"{agree} of {plan.parity_tokens}" if agree else "not measured"
        rows.append((v.label, f"{v.size_mb:,.0f}", export, agree))
        report.results.setdefault("exports", {})[v.label] = {
            "model": v.name, "size_mb": v.size_mb, "export_s": v.export_s,
            "greedy_agreement": v.agreement,
        }  # fmt: skip
    report.table(["model", "GGUF MB", "export s", "tokens equal to transformers"], rows)


def _serving_section(
    report: Report, variants: list[Variant], results: list[ModelResult], plan: Plan
) -> None:
    rows = []
    for v, result in zip(variants, results, strict=True):
        for r in result.runs:
            rows.append((
                v.label, r.concurrency, r.requests, fmt(r.ttft_p50_ms), fmt(r.inter_token_p50_ms),
                fmt(r.throughput_tok_s), f"{r.rss_peak_mb:,.0f}",
            ))  # fmt: skip
        report.results.setdefault("serving", {})[v.label] = {
            "model": v.name, "rss_idle_mb": result.rss_idle_mb, "load_s": result.load_s,
            "runs": [r.as_dict() for r in result.runs],
        }  # fmt: skip
    report.section(
        "Latency, throughput and memory",
        "TTFT: request sent to first streamed token (includes prompt processing and waiting "
        "for a slot), median over requests. Per token: median over requests of the mean gap "
        "between streamed tokens. Throughput: all completion tokens / wall time. RSS: peak "
        "resident memory of the llama.cpp server process during the run (weights are "
        "memory-mapped, so their pages count once touched).",
    )
    report.table(
        ["model", "concurrent", "requests", "TTFT p50 ms", "per token ms", "tokens/s", "RSS MB"],
        rows,
    )
    figure, axes = new_figure(11, 3.6, nrows=1, ncols=3)
    for v, result in zip(variants, results, strict=True):
        xs = [r.concurrency for r in result.runs]
        axes[0].plot(xs, [r.throughput_tok_s for r in result.runs], "o-", label=v.label)
        axes[1].plot(xs, [r.inter_token_p50_ms for r in result.runs], "o-", label=v.label)
    axes[2].bar([v.label for v in variants], [r.rss_idle_mb for r in results], label="idle")
    axes[2].bar([v.label for v in variants],
                [max(x.rss_peak_mb for x in r.runs) - r.rss_idle_mb for r in results],
                bottom=[r.rss_idle_mb for r in results], label="peak - idle")  # fmt: skip
    for ax, label in zip(axes[:2], ("tokens/s (all requests)", "ms per token"), strict=True):
        ax.set_xlabel("concurrent requests")
        ax.set_ylabel(label)
        ax.set_xticks(list(plan.concurrencies))
        ax.legend(fontsize=8)
    axes[2].set_ylabel("server RSS, MB")
    axes[2].legend(fontsize=8)
    axes[2].tick_params(axis="x", labelsize=7)
    report.figure(figure, "serving", "throughput, per-token latency and memory by model")
