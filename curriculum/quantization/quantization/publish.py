"""Publish a GPTQ-quantized Qwen2.5-Coder-0.5B so that the gateway can serve it.

The model in memory holds QuantLinear modules (4-bit codes, float16 scale and uint8 zero per
group of 128 inputs). ``export_quantized_gguf`` writes them as llama.cpp Q4_1 blocks straight
from those codes (embeddings Q8_0, norms and biases f32), and the file is published as an
``llm`` artifact: ``ASCENT_LLM_MODEL=qwen2.5-coder-0.5b-gptq-q4_1`` then serves it.

``python -m curriculum.quantization.quantization.publish`` runs GPTQ int4 g128 act-order on
the packaged model with the quantization benchmark's calibration (``qwen.subject``'s defaults:
32 windows of 256 stdlib tokens; perplexity on 4 windows of 512), tracked in MLflow, and
publishes; ``python -m benchmarks.curriculum_quantization`` publishes the same variant when it
has measured it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from torch import nn

from curriculum.finetuning.gguf_export import DTYPES, export_quantized_gguf
from curriculum.quantization.quantization import compare, qwen
from curriculum.quantization.quantization.evaluate import perplexity
from curriculum.quantization.quantization.gptq import GPTQConfig
from curriculum.quantization.quantization.quant_linear import QuantLinear
from shared.config import Settings, get_settings
from shared.models.registry import LLM_ARTIFACT_FILE, ArtifactRegistry

PUBLISHED_NAME = "qwen2.5-coder-0.5b-gptq-q4_1"
EXPERIMENT = "quantization-qwen"  # the benchmark's: its runs and these sit side by side
COMMAND = "python -m curriculum.quantization.quantization.publish"
REST_DTYPE = "q8_0"
DATA = (
    "calibration: Python 3.11 standard-library modules (even-indexed files, one window from "
    "the middle of each); evaluation: odd-indexed files"
)


def publish_gptq_model(
    model: nn.Module, provenance: dict, *, name: str = PUBLISHED_NAME,
    settings: Settings | None = None, rest_dtype: str = REST_DTYPE,
    tokenizer_gguf: Path | None = None,
) -> Path:  # fmt: skip
    """Export ``model`` (a transformers Qwen2 whose block linears are QuantLinear) to GGUF and
    publish it as ``name``. ``provenance``: the MLflow run, git sha, data, GPTQ settings and
    metrics, as ``gptq_provenance`` builds them. Returns the artifact's folder."""
    settings = settings or get_settings()
    groups = sorted({m.group_size for m in model.modules() if isinstance(m, QuantLinear)})
    export = f"block linears Q4_1 from the int4 codes, embeddings {rest_dtype}, norms f32"
    with tempfile.TemporaryDirectory() as folder:
        gguf = export_quantized_gguf(
            model, Path(folder) / LLM_ARTIFACT_FILE, rest_dtype, tokenizer_gguf, name=name
        )
        return ArtifactRegistry(settings.models_dir).publish(
            name, gguf.parent, kind="llm", license="Apache-2.0",
            description="Qwen2.5-Coder-0.5B-Instruct quantized by the curriculum's GPTQ (int4, "
            f"groups of {', '.join(map(str, groups))}), GGUF: {export}",
            provenance={"base_model": qwen.MODEL, **provenance, "export_dtype": export},
        )  # fmt: skip


def gptq_provenance(run, command: str, params: dict, metrics: dict) -> dict:
    """What the registry records, as for the LoRA fine-tune: run, git sha, base model,
    command, data, the method's settings and metrics."""
    return {**run.provenance(), "base_model": qwen.MODEL, "command": command, "data": DATA,
            "gptq": params, "metrics": metrics}  # fmt: skip


def quantize_and_publish(
    subject: compare.Subject, config: GPTQConfig | None = None, *, name: str = PUBLISHED_NAME,
    settings: Settings | None = None, rest_dtype: str = REST_DTYPE,
) -> Path:  # fmt: skip
    """GPTQ (default: int4 g128 act-order, the benchmark's) over ``subject.model`` in place (it
    ends up quantized), perplexity before and after on ``subject.evaluation``, then
    ``publish_gptq_model``, all in one MLflow run."""
    from curriculum.mlops.tracking import tracked_run

    config = config or GPTQConfig()
    (n_cal, cal_len), (n_eval, eval_len) = subject.calibration.shape, subject.evaluation.shape
    params = {"model": qwen.MODEL, "calibration": f"{n_cal}x{cal_len} stdlib tokens",
              "evaluation": f"{n_eval}x{eval_len} stdlib tokens",
              "group_size": config.group_size, "bits": config.bits,
              "percdamp": config.percdamp, "act_order": config.act_order}  # fmt: skip
    tags = {"command": COMMAND}
    with tracked_run(EXPERIMENT, params=params, tags=tags, settings=settings) as run:
        float_ppl = perplexity(subject.model, subject.logits, subject.evaluation)
        extra = compare.gptq(config)(subject, subject.model)
        metrics = {
            "float32_perplexity": float_ppl,
            "gptq_perplexity": perplexity(subject.model, subject.logits, subject.evaluation),
            **extra,
        }
        run.log_metrics(metrics)
        return publish_gptq_model(
            subject.model, gptq_provenance(run, COMMAND, params, metrics), name=name,
            settings=settings, rest_dtype=rest_dtype,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m curriculum.quantization.quantization.publish",
        description="GPTQ int4 g128 act-order on Qwen2.5-Coder-0.5B, published as Q4_1 GGUF",
    )
    parser.add_argument("--name", default=PUBLISHED_NAME)
    parser.add_argument("--rest-dtype", choices=list(DTYPES), default=REST_DTYPE,
                        help="type of the embeddings and output head (Q8_0 for the "
                        "head below 8 bits)")  # fmt: skip
    args = parser.parse_args(argv)
    subject, _ = qwen.subject()  # the benchmark's calibration and evaluation windows
    print(quantize_and_publish(subject, name=args.name, rest_dtype=args.rest_dtype))


if __name__ == "__main__":
    main()
