"""lm-evaluation-harness table: every LLM the gateway serves on the three local YAML tasks.

Models: the packaged ``qwen2.5-coder-0.5b`` plus every published ``llm`` artifact found at
run time (the LoRA fine-tune ``qwen2.5-coder-0.5b-ascent``, quantized exports such as
``-q8_0`` / ``-q4_0``). Tasks (``curriculum/mlops/evaluation/tasks``): ``ascent_jeopardy``
(trivia recall), ``ascent_titanic_lookup`` (reading a value out of the prompt),
``ascent_python_output`` (predicting a Python expression's value); 50 examples each,
zero-shot, greedy, generation through /v1/chat/completions of the embedded llama.cpp.

One line per model and task: ``value`` is the exact-match rate, ``baseline`` the packaged base
model's on the same task in the same run (so ``ratio`` says what fine-tuning or quantizing
did), with ``contains`` and the standard error as context; one line per model for the
wall time of its three tasks (baseline: the base model's).

``--quick``: the base model only, 3 examples per task.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks._common import main, result, settings
from curriculum.mlops.evaluation.harness import BASE_MODEL, TASKS, evaluate_models, served_models


def run(quick: bool) -> list[dict]:
    config = settings()
    models = served_models(config)[:1] if quick else served_models(config)
    with tempfile.TemporaryDirectory() as folder:
        results, run_id = evaluate_models(models, config, 3 if quick else 50, Path(folder),
                                          experiment="evaluation-benchmark")  # fmt: skip
    base = next(r for r in results if r.model == BASE_MODEL)
    lines = []
    for r in results:
        for task in TASKS:
            lines.append(
                result(
                    f"lmeval_exact_match_{task}",
                    r.scores[task]["exact_match"],
                    "fraction",
                    base.scores[task]["exact_match"],
                    model=r.model,
                    contains=r.scores[task]["contains"],
                    stderr=r.stderr[task].get("exact_match", 0.0),
                    examples=3 if quick else 50,
                    mlflow_run_id=run_id,
                )
            )
        lines.append(result("lmeval_seconds", r.seconds, "s", base.seconds, model=r.model,
                            tasks=len(TASKS)))  # fmt: skip
    return lines


if __name__ == "__main__":
    main("curriculum_lmeval", run)
