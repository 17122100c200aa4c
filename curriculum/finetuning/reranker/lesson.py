"""``ascent learn reranker``: mine, train, evaluate and publish the cross-encoder reranker.

The full run (all ~1,200 training queries, up to 12 minutes of training on 2 cores) is also
``benchmarks/curriculum_reranker.py``; ``--quick`` trains a few steps on a reduced set and
publishes under ``reranker-jeopardy-quick``, so it never replaces the real reranker.
"""

from __future__ import annotations

from pathlib import Path

from rich.progress import Progress

from curriculum.finetuning.reranker.evaluation import Row, as_dicts, to_markdown
from curriculum.finetuning.reranker.pipeline import DATA_LABEL, Outcome, train_and_publish
from curriculum.finetuning.reranker.recipe import FULL, QUICK, Recipe
from curriculum.foundations._report import Report, new_figure
from shared.config import get_settings
from shared.retrieval.train_reranker import Step


def run(out: Path, quick: bool = False, progress: Progress | None = None) -> Path:
    recipe = QUICK if quick else FULL
    tasks: dict[str, object] = {}

    def advance(stage: str, n: int) -> None:
        if progress is None:
            return
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=None)
        progress.advance(tasks[stage], n)

    def on_step(step: Step) -> None:
        advance(f"training ({recipe.train.loss} loss)", 1)

    outcome = train_and_publish(get_settings(), recipe, advance=advance, on_step=on_step)
    return write_report(out, recipe, outcome)


def write_report(out: Path, recipe: Recipe, outcome: Outcome) -> Path:
    report = Report(out, "A cross-encoder reranker from MiniLM, on hard negatives")
    report.text(
        "A cross-encoder reads the query and the passage together and returns one relevance "
        "score, so every word of the query can attend to every word of the passage; a "
        "bi-encoder compares two vectors made apart. No pre-trained cross-encoder can be "
        "installed offline, so this one starts from the packaged all-MiniLM-L6-v2 bi-encoder "
        'weights with a new, randomly initialised one-logit head ("step 0").'
    )
    _data_section(report, recipe, outcome)
    _training_section(report, recipe, outcome.history)
    _evaluation_section(report, outcome.rows)
    report.section(
        "Published",
        f"`{outcome.name}` at `{outcome.path}` (kind `reranker`), MLflow run "
        f"`{outcome.run_id}`; `ascent models` shows its provenance. Retrieval loads "
        "`settings.reranker_model` (default `reranker-jeopardy`) whenever reranking is on "
        "and no reranker is passed.",
    )
    report.results.update({
        "name": outcome.name, "mlflow_run_id": outcome.run_id, "groups": outcome.groups,
        "mining": outcome.mining, "train_seconds": outcome.train_seconds,
        "mine_seconds": outcome.mine_seconds, "steps": len(outcome.history),
        "final_loss": outcome.history[-1].loss if outcome.history else None,
        "evaluation": as_dicts(outcome.rows),
    })  # fmt: skip
    return report.write()


def _data_section(report: Report, recipe: Recipe, outcome: Outcome) -> None:
    m = outcome.mining
    report.section(
        "Data: hard negatives from our own hybrid search",
        f"{DATA_LABEL} Mining took {outcome.mine_seconds:.0f} s: {m['queries']} queries, "
        f"the top {recipe.depth} hybrid hits each; the positive was among them for "
        f"{m['positive_recall_at_depth']:.0%}. Kept {m['negatives']} negatives "
        f"(at most {recipe.train.negatives} per query, in retrieval order); skipped "
        f"{m['skipped_same_title']} same-name and {m['skipped_near_copy']} near-copy hits as "
        f"probable false negatives. {outcome.groups} training groups.",
    )


def _training_section(report: Report, recipe: Recipe, history: list[Step]) -> None:
    t = recipe.train
    report.section(
        "Training",
        f"Loss: **{t.loss}**, a softmax over each group's {1 + t.negatives} scores with the "
        "positive as the target. Pointwise BCE asks each score to be a calibrated "
        f"probability, which this model does not need and the 1:{t.negatives} class balance makes "
        "hard; "
        "the listwise loss asks only that the positive beat these negatives, which is what a "
        "reranker is for, and every negative shapes each step's gradient. "
        f"AdamW, learning rate {t.learning_rate:g} with {t.warmup:.0%} linear warmup then "
        f"linear decay, {t.groups_per_batch} groups per batch, sequences cut at "
        f"{t.max_length} tokens, gradient norm clipped at {t.clip}, {t.epochs} epoch(s)"
        + (f" or {t.max_seconds:.0f} s" if t.max_seconds else "") + ". "
        + (f"{len(history)} steps in {history[-1].seconds:.0f} s, {history[-1].groups} "
           f"groups seen." if history else "No steps ran."),
    )  # fmt: skip
    if not history:
        return
    figure, axis = new_figure(6.4, 3.6)
    steps = [s.step for s in history]
    losses = [s.loss for s in history]
    window = max(1, len(losses) // 20)
    smooth = [sum(losses[max(0, i - window + 1) : i + 1]) / len(losses[max(0, i - window + 1)
              : i + 1]) for i in range(len(losses))]  # fmt: skip
    axis.plot(steps, losses, alpha=0.35, label="per step")
    axis.plot(steps, smooth, label=f"mean of {window}")
    axis.axhline(_chance(t.negatives), linestyle="--", color="grey", label="chance (ln group)")
    axis.set_xlabel("step")
    axis.set_ylabel(f"{t.loss} loss")
    axis.legend()
    report.figure(figure, "loss", "training loss per step")


def _chance(negatives: int) -> float:
    import math

    return math.log(1 + negatives)


def _evaluation_section(report: Report, rows: list[Row]) -> None:
    report.section(
        "Evaluation (the `ascent rag eval` harness)",
        "Recall@10, MRR and nDCG@10 over distinct documents. `hybrid+rerank` fuses the "
        "reranker's order with the retrieval order (weighted RRF, weight 0.5, the default); "
        "`hybrid+rerank-only` uses the reranker's order alone over the top 30 hybrid hits.\n\n"
        + to_markdown(rows),
    )
    rerank = [r for r in rows if r.config == "hybrid+rerank-only"]
    if not rerank:
        return
    sets = list(dict.fromkeys(r.evalset for r in rows))
    figure, axes = new_figure(4.0 * len(sets), 3.6, nrows=1, ncols=len(sets), squeeze=False)
    for axis, evalset in zip(axes[0], sets, strict=True):
        chosen = [r for r in rows if r.evalset == evalset and r.config != "vector"]
        labels = ["hybrid" if r.reranker == "-" else f"{r.reranker}\n{r.config[7:]}"
                  for r in chosen]  # fmt: skip
        axis.barh(labels, [r.ndcg_at_10 for r in chosen])
        axis.set_xlabel("nDCG@10")
        axis.set_title(evalset)
        axis.tick_params(axis="y", labelsize=7)
    report.figure(figure, "ndcg", "nDCG@10 by reranker and configuration")
