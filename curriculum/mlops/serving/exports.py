"""The models the serving lesson compares: Qwen2.5-Coder-0.5B exported to GGUF at f16 (the
"original": the packaged weights as transformers dequantizes them), q8_0 and q4_0, checked
greedily against transformers and published as ``llm`` artifacts the gateway can serve."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import Progress

from curriculum.finetuning.gguf_export import PACKAGED_BASE, dequantize_packaged, export_gguf
from curriculum.foundations._report import track
from curriculum.mlops.serving.parity import agreement, llama_cpp_greedy, transformers_greedy
from curriculum.mlops.tracking import tracked_run
from shared.config import Settings
from shared.models.registry import LLM_ARTIFACT_FILE, ArtifactRegistry, ModelRegistry

EXPORT_DTYPES = ("f16", "q8_0", "q4_0")
EXPERIMENT = "gguf-export-qwen2.5-coder-0.5b"
# Raw completions (no chat template): code a coder model continues with confidence.
PARITY_PROMPTS = (
    "def fibonacci(n):\n",
    "import numpy as np\n\n\ndef mean_of(values):\n",
    "-- list the ten newest orders\nSELECT",
)

# "def fibonacci(n):" and "import numpy as np\n\n" in Qwen2.5's BPE.
FALLBACK_PROMPT_IDS = ((750, 75698, 1445, 1648), (474, 8591, 438, 2595, 271))


@dataclass
class Variant:
    """One model as the gateway serves it."""

    name: str  # gateway model name: a packaged model or a published artifact
    label: str  # f16, q8_0, q4_0, Q4_K_M
    path: Path
    export_s: float | None = None
    agreement: list[int] = field(default_factory=list)  # per parity prompt
    size_mb: float = 0.0

    def __post_init__(self) -> None:
        self.size_mb = self.size_mb or self.path.stat().st_size / 1e6


def artifact_name(dtype: str, base: str = PACKAGED_BASE) -> str:
    return f"{base}-{dtype}"


def packaged_variant(settings: Settings) -> Variant:
    path = ModelRegistry(settings.models_dir).path(PACKAGED_BASE)
    return Variant(name=PACKAGED_BASE, label="Q4_K_M (packaged)", path=path)


def published_variants(settings: Settings, base: str = PACKAGED_BASE) -> list[Variant] | None:
    """The exports published by an earlier run, with their recorded figures, then the packaged
    model with the agreement that run measured for it; None if an export is missing."""
    registry = ArtifactRegistry(settings.models_dir)
    variants, compared = [], {}
    for dtype in EXPORT_DTYPES:
        name = artifact_name(dtype, base)
        if name not in registry.names():
            return None
        metrics = registry.manifest(name).get("provenance", {}).get("metrics", {})
        variants.append(
            Variant(name=name, label=dtype, path=registry.path(name) / LLM_ARTIFACT_FILE,
                    export_s=metrics.get("export_s"),
                    agreement=list(metrics.get("greedy_agreement", [])))
        )  # fmt: skip
        compared = metrics.get("compared", {})
    packaged = packaged_variant(settings)
    packaged.agreement = list(compared.get(packaged.label, []))
    return [*variants, packaged]


def parity_prompt_ids(hf_dir: Path) -> list[list[int]]:
    """PARITY_PROMPTS as token ids, with the checkpoint's own tokenizer.json when it has one
    (the dequantized Qwen does); a random test model without one gets fixed Qwen2.5 ids."""
    path = hf_dir / "tokenizer.json"
    if not path.is_file():
        return [list(ids) for ids in FALLBACK_PROMPT_IDS]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    return [tokenizer.encode(p, add_special_tokens=False).ids for p in PARITY_PROMPTS]


def hf_checkpoint(settings: Settings) -> Path:
    """The packaged Q4_K_M model dequantized by transformers, saved once as f32 safetensors."""
    folder = settings.cache_dir / f"{PACKAGED_BASE}-hf"
    if not (folder / "config.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        dequantize_packaged(folder, ModelRegistry(settings.models_dir).path(PACKAGED_BASE))
    return folder


def build_and_publish(
    settings: Settings, hf_dir: Path, *, base: str = PACKAGED_BASE, n_tokens: int = 16,
    tokenizer_gguf: Path | None = None, compare: list[Variant] | None = None,
    base_model: str = PACKAGED_BASE, dtypes: tuple[str, ...] = EXPORT_DTYPES,
    parity_dtypes: tuple[str, ...] = EXPORT_DTYPES, progress: Progress | None = None,
) -> list[Variant]:  # fmt: skip
    """Export ``hf_dir`` at each of EXPORT_DTYPES, decode the parity prompts greedily with
    transformers and with llama.cpp (the exports and any ``compare`` variants), publish."""
    from transformers import AutoModelForCausalLM

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer_gguf = tokenizer_gguf or ModelRegistry(settings.models_dir).path(PACKAGED_BASE)
    staging = settings.cache_dir / f"gguf-exports-{base}"
    shutil.rmtree(staging, ignore_errors=True)
    params = {"base_model": base, "hf_checkpoint": str(hf_dir), "dtypes": ",".join(dtypes),
              "parity_tokens": n_tokens}  # fmt: skip
    with tracked_run(EXPERIMENT, params=params, settings=settings) as run:
        variants = []
        for dtype in track(progress, dtypes, "exporting GGUF"):
            start = time.perf_counter()
            path = export_gguf(hf_dir, staging / dtype / LLM_ARTIFACT_FILE, dtype, tokenizer_gguf)
            variants.append(Variant(artifact_name(dtype, base), dtype, path,
                                    export_s=time.perf_counter() - start))  # fmt: skip
        prompts = parity_prompt_ids(hf_dir)
        model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype="float32").eval()
        reference = [transformers_greedy(model, ids, n_tokens) for ids in prompts]
        del model
        checked = [v for v in variants if v.label in parity_dtypes] + (compare or [])
        for variant in track(progress, checked, "greedy decoding in llama.cpp"):
            decoded = llama_cpp_greedy(
                variant.path, prompts, n_tokens, threads=settings.llm_threads
            )
            variant.agreement = [agreement(a, b) for a, b in zip(reference, decoded, strict=True)]
        for variant in variants:
            metrics = {"export_s": variant.export_s, "size_mb": variant.size_mb,
                       "greedy_agreement": variant.agreement, "parity_tokens": n_tokens,
                       "compared": {v.label: v.agreement for v in compare or []}}  # fmt: skip
            run.log_metrics({f"{variant.label}_export_s": variant.export_s,
                             f"{variant.label}_size_mb": variant.size_mb,
                             f"{variant.label}_agreement": sum(variant.agreement)})  # fmt: skip
            target = ArtifactRegistry(settings.models_dir).publish(
                variant.name, variant.path.parent, kind="llm", license="Apache-2.0",
                description=f"{base} exported to GGUF {variant.label} by gguf_export.py",
                provenance={**run.provenance(), "base_model": base_model,
                            "command": "ascent learn serving", "metrics": metrics,
                            "data": "none: weights only (the packaged Q4_K_M, dequantized)"},
            )  # fmt: skip
            variant.path = target / LLM_ARTIFACT_FILE
    shutil.rmtree(staging, ignore_errors=True)
    return variants
