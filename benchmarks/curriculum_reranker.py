"""The curriculum's cross-encoder reranker: the full training run and its evaluation.

Recipe: ``curriculum.finetuning.reranker.recipe.FULL``. Hard negatives are mined with the
real hybrid search (embedded Postgres + pgvector + full text) over the Jeopardy training
corpus (answers absent from the evaluation set): for each of ~1,200 training clues, the top
30 hybrid hits that are not its answer's document, minus same-name and near-copy documents,
the 4 best-ranked kept per clue. Training: listwise softmax loss over (positive, 4 negatives)
groups from the packaged all-MiniLM-L6-v2 weights, AdamW 8e-5, warmup 10% then linear decay,
8 groups per batch, 96 tokens, 1 epoch or 720 s (the schedule ends at whichever comes first),
2 threads.
The result is tracked in MLflow and published as ``reranker-jeopardy``.

Evaluation, through the RAG harness (``shared.retrieval.evaluate``) in the same run: the
first 100 Jeopardy evaluation queries over its 3,000 documents and the 83 shop queries;
hybrid against hybrid + rerank (fused with RRF, and the reranker's order alone) for the
untrained start (MiniLM with a new seeded head: step 0), the earlier word-overlap reranker
when it is published as ``reranker-jeopardy-wordoverlap`` (on Jeopardy only, to save CPU
time), and the new one. Baseline of each line: hybrid without reranking. The full table goes to
``benchmarks/results/curriculum-reranker.json``.

``--quick``: the lesson's quick recipe (12 queries, 3 steps, a reduced Jeopardy set),
published as ``reranker-jeopardy-quick``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from benchmarks._common import machine, main, result, settings
from curriculum.finetuning.reranker.evaluation import as_dicts, metric, to_markdown
from curriculum.finetuning.reranker.pipeline import NEW, STEP0, train_and_publish
from curriculum.finetuning.reranker.recipe import FULL, QUICK, Recipe
from shared.models.registry import ArtifactRegistry, ModelNotInstalled

logger = logging.getLogger("benchmarks.curriculum_reranker")

OLD_NAME = "reranker-jeopardy-wordoverlap"
OLD_LABEL = "word overlap (old)"
RESULTS = Path(__file__).parent / "results" / "curriculum-reranker.json"


def run(quick: bool, recipe: Recipe | None = None) -> list[dict]:
    config = settings()
    recipe = recipe or (QUICK if quick else FULL)
    extra = {}
    try:
        extra[OLD_LABEL] = ArtifactRegistry(config.models_dir).path(OLD_NAME)
    except ModelNotInstalled:
        logger.info("%s is not published: its rows are left out", OLD_NAME)

    def on_step(step) -> None:
        if step.step % 10 == 0:
            logger.info("step %d loss %.4f lr %.2e %.0f s", step.step, step.loss,
                        step.learning_rate, step.seconds)  # fmt: skip

    outcome = train_and_publish(config, recipe, on_step=on_step, extra_rerankers=extra)
    table = to_markdown(outcome.rows)
    logger.info("\n%s", table)
    if not quick:
        results = RESULTS if recipe.baselines else RESULTS.with_suffix(".new-only.json")
        results.write_text(json.dumps({
            "machine": machine(), "recipe": recipe.params(), "mining": outcome.mining,
            "train_seconds": outcome.train_seconds, "mine_seconds": outcome.mine_seconds,
            "steps": len(outcome.history), "mlflow_run_id": outcome.run_id,
            "loss": [round(s.loss, 4) for s in outcome.history],
            "evaluation": as_dicts(outcome.rows), "markdown": table,
        }, indent=1) + "\n")  # fmt: skip
    context = {"groups": outcome.groups, "steps": len(outcome.history),
               "train_seconds": outcome.train_seconds}  # fmt: skip
    lines = []
    for evalset in dict.fromkeys(r.evalset for r in outcome.rows):
        hybrid = metric(outcome.rows, evalset, "-", "hybrid", "ndcg_at_10")
        for label in (STEP0, *extra, NEW):
            if not any(r.evalset == evalset and r.reranker == label for r in outcome.rows):
                continue
            for config_name in ("hybrid+rerank", "hybrid+rerank-only"):
                value = metric(outcome.rows, evalset, label, config_name, "ndcg_at_10")
                lines.append(result(f"reranker_{evalset}_ndcg10", value, "nDCG@10", hybrid,
                                    reranker=label, config=config_name,
                                    baseline_config="hybrid", **context))  # fmt: skip
    return lines


if __name__ == "__main__":
    main("curriculum_reranker", run)
