"""``ascent learn <module>``: run one curriculum module, writing its figures and report."""

import importlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

# Module name -> what it does. Its curriculum/foundations/<name>/lesson.py is imported only when
# chosen: `ascent --help` loads this file on every call, and lessons pull in matplotlib, torch...
LESSONS = {
    "collections": "deque, Counter, OrderedDict, defaultdict, namedtuple vs CPython's tests",
    "hashing": "twenty arrays & hashing problems in O(n), checked against brute force",
    "numpy_pandas": "matmul from loops to BLAS; vectorized Titanic pipeline, NumPy logistic reg.",
    "linear_algebra": "SVD image compression; power method with deflation vs numpy.linalg.svd",
    "optimization": "GD, momentum, RMSProp, Adam on three losses; 2-layer net gradients by hand",
    "mlp_numpy": "an MLP in NumPy (Dense, ReLU, softmax-CE, Adam, dropout) trained on MNIST",
    "torch_compare": "the same MLP in PyTorch: equal losses, gradients, Adam steps, dropout",
}
# The same, for curriculum/llm_internals/<name>/lesson.py.
LLM_INTERNALS = {
    "attention": "scaled dot-product, causal and multi-head attention vs torch's SDPA",
    "bpe": "byte-level BPE with GPT-4 regex on Shakespeare vs HF tokenizers",
    "makemore": "name models: bigram, trigram, MLP with BatchNorm, WaveNet; loss table",
    "gpt": "a char-level GPT on Shakespeare: training, resume, sampling, KV cache",
    "mamba": "a selective state-space block and scan; a tiny Mamba LM against the GPT",
}
# Part 3: these produce the models the services run (published to the model registry).
FINETUNING = {
    "lora": "LoRA by hand vs peft; fine-tune Qwen2.5-Coder-0.5B, export GGUF, publish, serve",
    "reranker": "train a cross-encoder reranker on hard negatives from hybrid search; publish",
}
QUANTIZATION = {
    "quantization": "absmax/zero-point int8, group int4 RTN, GPTQ; vs bitsandbytes, llama.cpp",
}
MLOPS = {
    "fsdp": "FSDP on 2 CPU ranks (gloo) against DDP and one process: memory and loss",
    "evaluation": "lm-evaluation-harness on local YAML tasks through the gateway",
    "serving": "latency, throughput and memory of the original against the quantized model",
}
PACKAGES = {
    **dict.fromkeys(LESSONS, "foundations"),
    **dict.fromkeys(LLM_INTERNALS, "llm_internals"),
    **dict.fromkeys(FINETUNING, "finetuning"),
    **dict.fromkeys(QUANTIZATION, "quantization"),
    **dict.fromkeys(MLOPS, "mlops"),
}

app = typer.Typer(
    help="Learn by implementing: each module builds its subject from scratch, compares it "
    "with the library version and writes PNG figures plus report.md.",
    no_args_is_help=True,
)
console = Console()


@app.callback()
def learn() -> None:
    """Learn by implementing: one command per curriculum module."""


def run_lesson(name: str, out: Path | None, quick: bool) -> Path:
    """Run lesson ``name`` with a progress bar; return the path of its report."""
    lesson = importlib.import_module(f"curriculum.{PACKAGES[name]}.{name}.lesson")
    out = out or Path("learn-output") / name
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        return lesson.run(out, quick=quick, progress=progress)


def _register(name: str, summary: str) -> None:
    def command(
        out: Annotated[
            Path | None, typer.Option(help=f"output folder (default ./learn-output/{name})")
        ] = None,
        quick: Annotated[bool, typer.Option(help="small sizes, for a smoke test")] = False,
    ) -> None:
        report = run_lesson(name, out, quick)
        console.print(f"[green]report:[/] {report}")

    command.__doc__ = f"{summary}."
    app.command(name=name)(command)


for _name, _summary in {**LESSONS, **LLM_INTERNALS, **FINETUNING, **QUANTIZATION, **MLOPS}.items():
    _register(_name, _summary)
