"""lm-evaluation-harness against the LLM gateway's OpenAI endpoint.

Why generation tasks only: lm_eval's loglikelihood (multiple-choice) requests need the
log-probabilities of the *prompt* tokens (``echo=True`` on /v1/completions). llama.cpp's
server ignores ``echo`` and returns log-probabilities for generated tokens only, so every
task here is ``generate_until`` through /v1/chat/completions, scored from the reply text.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from lm_eval.api.registry import register_model
from lm_eval.models.openai_completions import LocalChatCompletion
from rich.progress import Progress

from curriculum.foundations._report import track
from curriculum.mlops.tracking import tracked_run
from shared.config import Settings
from shared.models.llm import embedded_server_url, stop_embedded_servers
from shared.models.registry import ArtifactRegistry

logger = logging.getLogger(__name__)

TASKS_DIR = Path(__file__).parent / "tasks"
TASKS = ("ascent_jeopardy", "ascent_titanic_lookup", "ascent_python_output")
BASE_MODEL = "qwen2.5-coder-0.5b"


@register_model("ascent-gateway")
class GatewayLM(LocalChatCompletion):
    """``LocalChatCompletion`` pointed at the gateway: the configured endpoint
    (``ASCENT_LLM_BASE_URL``) or the embedded llama.cpp server for ``model``, started here."""

    def __init__(
        self, model: str, settings: Settings | None = None, base_url: str | None = None,
        **kwargs: object,
    ) -> None:  # fmt: skip
        settings = settings or Settings()
        if base_url is None:
            base_url = settings.llm_base_url or embedded_server_url(settings, model)
        super().__init__(
            model=model,
            base_url=f"{base_url.rstrip('/')}/chat/completions",
            tokenizer_backend=None,  # generation only: no tokenizer to fetch from a hub
            tokenized_requests=False,
            num_concurrent=settings.llm_parallel,  # one request per server slot
            auth_token=settings.llm_api_key.get_secret_value() if settings.llm_base_url else None,
            timeout=int(settings.llm_timeout),
            **kwargs,
        )


def served_models(settings: Settings) -> list[str]:
    """The packaged base model plus every published LLM (the LoRA fine-tune, the quantized
    exports...), whatever exists when this runs."""
    artifacts = ArtifactRegistry(settings.models_dir)
    published = [name for name in artifacts.names() if artifacts.manifest(name)["kind"] == "llm"]
    return [BASE_MODEL, *published]


@dataclass
class Evaluation:
    model: str
    scores: dict[str, dict[str, float]]  # task -> metric -> value
    stderr: dict[str, dict[str, float]]
    samples: dict[str, list[dict]] = field(default_factory=dict)
    seconds: float = 0.0


def evaluate(
    lm: LocalChatCompletion, model: str, tasks: tuple[str, ...] = TASKS,
    include_path: Path = TASKS_DIR, limit: int | None = None,
) -> Evaluation:  # fmt: skip
    """Run ``tasks`` (YAML under ``include_path``) through ``lm_eval.simple_evaluate``."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    # include_defaults=False: index our folder only, not lm_eval's thousands of hub tasks.
    manager = TaskManager(include_path=str(include_path), include_defaults=False)
    start = time.perf_counter()
    output = lm_eval.simple_evaluate(
        model=lm, tasks=list(tasks), task_manager=manager, limit=limit,
        apply_chat_template=True, log_samples=True, bootstrap_iters=1000,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    scores, stderr = {}, {}
    for task, metrics in output["results"].items():
        scores[task] = {m.split(",")[0]: v for m, v in metrics.items()
                        if "," in m and "_stderr" not in m}  # fmt: skip
        stderr[task] = {m.split("_stderr")[0]: v for m, v in metrics.items() if "_stderr" in m}
    samples = {task: [_sample(row) for row in rows] for task, rows in output["samples"].items()}
    return Evaluation(model, scores, stderr, samples, seconds)


def _sample(row: dict) -> dict:
    """One logged example: the user message sent, the gold answer, the reply, its scores."""
    chat = row["arguments"][0][0]  # lm_eval's JsonChatStr: the chat messages as JSON
    messages = json.loads(chat.prompt if hasattr(chat, "prompt") else chat[0])
    scores = {m: row[m] for m in ("exact_match", "contains") if m in row}
    return {"prompt": messages[-1]["content"], "target": row["target"],
            "reply": row["resps"][0][0], **scores}  # fmt: skip


def evaluate_models(
    models: list[str], settings: Settings, limit: int | None, samples_dir: Path | None = None,
    progress: Progress | None = None, experiment: str = "evaluation",
) -> tuple[list[Evaluation], str]:  # fmt: skip
    """Every model on every task, one MLflow run for the table; each model's server is
    stopped before the next starts, so only one sits in memory."""
    params = {"models": ",".join(models), "tasks": ",".join(TASKS), "examples": limit,
              "harness": f"lm-eval {version('lm_eval')}",
              "endpoint": settings.llm_base_url or "embedded"}  # fmt: skip
    results = []
    with tracked_run(experiment, params=params) as tracked:
        for model in track(progress, models, "evaluating models"):
            try:
                result = evaluate(GatewayLM(model, settings), model, limit=limit)
            finally:
                stop_embedded_servers([model])
            results.append(result)
            tracked.log_metrics({f"{metric}/{task}/{model}": value
                                 for task, metrics in result.scores.items()
                                 for metric, value in metrics.items()})  # fmt: skip
            tracked.log_metrics({f"seconds/{model}": result.seconds})
            if samples_dir is not None:
                path = write_samples(samples_dir, result)
                tracked.log_artifact(path, "samples")
    return results, tracked.run_id


def write_samples(folder: Path, result: Evaluation) -> Path:
    """Every prompt, gold answer, reply and score of one model, as JSON lines."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.model}.jsonl"
    with path.open("w") as stream:
        for task, samples in result.samples.items():
            for sample in samples:
                stream.write(json.dumps({"task": task, **sample}) + "\n")
    return path
