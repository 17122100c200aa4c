"""``ascent doctor``: check that every part of the suite is installed and actually works."""

from __future__ import annotations

import asyncio
import importlib
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from shared.config import Settings, redact_url
from shared.db import ensure_database
from shared.models.registry import MODELS, ModelRegistry, missing_packages

LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")


@dataclass
class Check:
    area: str
    name: str
    ok: bool
    detail: str
    seconds: float


def _run(area: str, name: str, fn: Callable[[], str]) -> Check:
    start = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # doctor reports every failure instead of stopping at the first
        detail, ok = f"{type(exc).__name__}: {exc}".strip(), False
    return Check(area, name, ok, detail[:400], time.perf_counter() - start)


PYTHON_PACKAGES = {
    "fastapi": "core",
    "psycopg": "core",
    "procrastinate": "core",
    "xllamacpp": "core",
    "sentence_transformers": "core",
    "faster_whisper": "repurposer extra",
    "unidiff": "reviewer extra",
}
# Only needed for development; their absence is reported, not failed.
OPTIONAL_PACKAGES = {"playwright": "dev extra, for browser tests"}


def _import(module: str, optional: bool = False) -> str:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        if optional:
            return "not installed (optional)"
        raise
    return str(getattr(mod, "__version__", "imported"))


def _database(settings: Settings) -> str:
    url = ensure_database(settings)
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        exts = dict(conn.execute("SELECT name, default_version FROM pg_available_extensions "
                                 "WHERE name IN ('vector', 'pg_trgm')").fetchall())  # fmt: skip
    for needed in ("vector", "pg_trgm"):
        if needed not in exts:
            raise RuntimeError(f"PostgreSQL {version} lacks the {needed} extension")
    where = "embedded" if settings.database_url is None else redact_url(url)
    return f"PostgreSQL {version}, pgvector {exts['vector']}, pg_trgm {exts['pg_trgm']} ({where})"


def _llm(settings: Settings, name: str) -> str:
    from shared.models.llm import LLMGateway

    async def ask() -> str:
        gateway = LLMGateway(settings, model=name)
        try:
            result = await gateway.chat(
                [{"role": "user", "content": "What is 2 + 3? Answer with the number only."}],
                max_tokens=8,
                temperature=0,
            )
        finally:
            await gateway.aclose()
        if "5" not in result.text:
            raise RuntimeError(f"answered {result.text!r} to 2 + 3")
        return result.text.strip()

    return f"answered {asyncio.run(ask())!r}"


def _embedding(settings: Settings, name: str) -> str:
    from shared.models.embeddings import Embedder

    vectors = Embedder(settings, model=name, cache=False).embed(["waterproof jacket", "rain coat"])
    similarity = float(vectors[0] @ vectors[1])
    if vectors.shape[1] != 384 or similarity < 0.3:
        raise RuntimeError(f"unexpected embeddings: shape {vectors.shape}, cos {similarity:.2f}")
    return f"384-dim, cos(jacket, coat) = {similarity:.2f}"


def _asr(settings: Settings, name: str) -> str:
    from shared.models.asr import Transcriber

    clips = sorted(LIBRIVOX_DIR.glob("*.wav"))
    if not clips:
        raise RuntimeError("no test clip: apt-get install pocketsphinx-testdata")
    transcript = Transcriber(settings, model=name).transcribe(clips[0])
    if not transcript.words:
        raise RuntimeError("no words recognised")
    return f"{len(transcript.words)} words: {transcript.text[:50]!r}"


def _ffmpeg() -> str:
    if not shutil.which("ffmpeg"):
        raise RuntimeError("ffmpeg not found: apt-get install ffmpeg")
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    filters = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    if " subtitles " not in filters:
        raise RuntimeError("ffmpeg lacks the subtitles filter (libass)")
    return version.stdout.splitlines()[0][:60] + ", libass ok"


def _chromium() -> str:
    path = shutil.which("chromium")
    if not path:
        raise RuntimeError("chromium not found: apt-get install chromium")
    out = subprocess.run(
        [path, "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    return out.stdout.strip()


def run_checks(settings: Settings) -> list[Check]:
    checks = [
        _run("python", f"{module} ({why})", lambda m=module: _import(m))
        for module, why in PYTHON_PACKAGES.items()
    ]
    checks += [
        _run("python", f"{module} ({why})", lambda m=module: _import(m, optional=True))
        for module, why in OPTIONAL_PACKAGES.items()
    ]
    checks.append(_run("database", "postgres", lambda: _database(settings)))
    registry = ModelRegistry(settings.models_dir)
    for name, model in MODELS.items():

        def prepare(m=model) -> str:
            if missing := missing_packages(m):
                raise RuntimeError(f"missing package(s): {', '.join(missing)}")
            registry.assemble(m) if not registry.is_ready(m) else registry.verify(m)
            return f"sha256 ok, {m.license}"

        checks.append(_run("model", f"{name} files", prepare))
        probe = {"llm": _llm, "embedding": _embedding, "asr": _asr}[model.kind]
        if settings.llm_base_url and model.kind == "llm":
            continue  # the configured endpoint is probed below instead
        checks.append(_run("model", f"{name} answers", lambda p=probe, n=name: p(settings, n)))
    if settings.llm_base_url:
        checks.append(_run("model", f"endpoint {settings.llm_model}", lambda: _llm(settings, None)))
    checks.append(_run("tools", "ffmpeg", _ffmpeg))
    checks.append(_run("tools", "chromium", _chromium))
    return checks
