"""LoRA fine-tune of Qwen2.5-Coder-0.5B on the suite's tasks: held-out metrics after against
before.

Runs ``ascent learn lora`` in full (``curriculum.finetuning.lora.lesson``): the packaged
Q4_K_M GGUF dequantized to float32, LoRA r=16 / alpha=32 on the attention and MLP projections,
AdamW for 1,800 CPU seconds (15 minutes of 2 cores; at most 900 s of wall time),
base weights in bfloat16, adapters float32, merge, GGUF q8_0 export, publish as
``qwen2.5-coder-0.5b-ascent``. Each held-out metric is one line whose baseline is the same
metric of the base model re-encoded as q8_0 (the weights training started from, in the same
GGUF type), with the packaged Q4_K_M base alongside. The base rows come from this run, or
from an earlier run in the same output folder on the identical held-out file (greedy decoding
of the same GGUF gives the same answers); ``baselines_from`` names that MLflow run. Also:
trainable parameters (baseline: all parameters), and the training loss at the end (baseline:
at the first step).

``--quick``: a tiny random Qwen2 with the real tokenizer; every stage runs, nothing is published.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from benchmarks._common import main, result
from curriculum.finetuning.lora import lesson
from shared.config import get_settings


def run(quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="lora-bench-") as folder:
        out = Path(folder) if quick else get_settings().data_home / "learn-output" / "lora"
        report = lesson.run(out, quick=quick)
        results = json.loads((report.parent / "results.json").read_text())
    counts, training = results["parameters"], results["training"]
    lines = [
        result("lora_trainable_parameters", counts["trainable"], "parameters", counts["total"],
               percent=counts["percent"]),
        result("lora_train_loss_end", training["loss_end_mean5"], "nats", training["loss_start"],
               steps=training["steps"], examples_seen=training["examples_seen"],
               train_seconds=training["seconds"], train_cpu_seconds=training["cpu_seconds"]),
    ]  # fmt: skip
    metrics = results.get("metrics", {})
    after = next((m for label, m in metrics.items() if label.startswith("fine-tuned")), None)
    base = next((m for label, m in metrics.items() if label.startswith("base q")), None)
    packaged = metrics.get("base Q4_K_M (packaged)", {})
    for name, value in (after or {}).items():
        reference = (base or packaged).get(name, 0.0)
        lines.append(result(f"lora_heldout_{name}", value, "rate", reference,
                            packaged_q4_k_m=packaged.get(name), quick=quick,
                            baselines_from=results.get("baselines_from") or "this run",
                            ))  # fmt: skip
    if "published" not in results:
        lines.append(result("lora_published", 0, "bool", 1, export=str(results.get("export"))))
    return lines


if __name__ == "__main__":
    main("curriculum_lora", run)
