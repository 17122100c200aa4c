"""The whole repurposing pipeline on a 10-minute talk: real-time factor, time per stage, memory.

The talk is the espeak-ng sample talk (four topics) repeated and cut to 600 s, as a 1280x720
H.264 video, so every stage runs: audio extraction, Whisper (packaged base model, int8),
chapters, highlights, clips (5 highlights x 16:9 and 9:16 at 720p), the six texts and the
exports. The pipeline runs as ``ascent repurpose`` runs it (no database). The LLM is the
embedded server with the benchmark's model (``--llm-model``; default the 0.5B), started and
warmed before the clock starts.

Memory: peak resident memory of this process and its children (FFmpeg), sampled every
0.2 s, for a 2.5-minute and the 10-minute input; flat means streaming, not loading whole files.
The LLM server is a separate process with a fixed footprint and is not counted.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks._common import main, result, settings

logger = logging.getLogger("benchmarks.repurposer_pipeline")
MODEL = "qwen2.5-coder-0.5b"
TARGET_RTF = 0.3


class PeakMemory:
    """Peak RSS of this process plus its live children, sampled in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._me = psutil.Process()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = self._me.memory_info().rss
            for child in self._me.children(recursive=True):
                try:
                    if "llama" not in child.name():
                        total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _talk(folder: Path, seconds: float) -> tuple[Path, float]:
    from services.repurposer.samples import build_talk, make_video

    repeats = max(1, int(seconds // 130) + 1)
    talk = build_talk(folder / "talk.wav", repeats=repeats)
    cut = folder / "cut.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(talk.audio), "-t",
                    str(seconds), str(cut)], check=True)  # fmt: skip
    video = make_video(cut, folder / "talk.mp4", topics=talk.topics)
    return video, min(seconds, talk.duration)


async def _pipeline(video: Path, out: Path, config, llm, embedder) -> dict[str, float]:
    from services.repurposer.cli import FolderHooks
    from services.repurposer.media.probe import validate
    from services.repurposer.pipeline import Hooks, JobOptions, Pipeline
    from services.repurposer.storage import LocalStorage

    folder = FolderHooks(out)

    async def mark_done(stage: str) -> None:
        await folder.mark(stage, "done")

    async def mark_running(stage: str) -> None:
        await folder.mark(stage, "running")

    hooks = Hooks(stage_started=mark_running, stage_progress=lambda *_: None,
                  stage_done=mark_done, finished_stages=folder.finished,
                  load_assets=folder.load_assets, save_asset=folder.save_asset)  # fmt: skip
    info = validate(video, min_duration=1, max_duration=4 * 3600)
    pipeline = Pipeline(job_id="bench", source_key="source.mp4", media=info, options=JobOptions(),
                        settings=config, storage=LocalStorage(out), llm=llm, embedder=embedder,
                        hooks=hooks, prefix="")  # fmt: skip
    await pipeline.run()
    return pipeline.timings


async def _measure(config, lengths) -> dict[float, tuple[float, dict[str, float], int]]:
    from shared.models.embeddings import Embedder
    from shared.models.llm import LLMGateway

    measured = {}
    llm = LLMGateway(config)
    embedder = Embedder(config)
    await llm.chat([{"role": "user", "content": "hi"}], max_tokens=1)  # start and warm
    embedder.embed(["warm up"])
    for seconds in lengths:
        with tempfile.TemporaryDirectory(prefix="ascent-bench-rp-") as tmp:
            video, duration = await asyncio.to_thread(_talk, Path(tmp), seconds)
            out = Path(tmp) / "out"
            await asyncio.to_thread(_prepare, out, video)
            logger.info("repurposing a %.0f s talk", duration)
            with PeakMemory() as memory:
                started = time.perf_counter()
                timings = await _pipeline(video, out, config, llm, embedder)
                elapsed = time.perf_counter() - started
            measured[duration] = (elapsed, timings, memory.peak)
    await llm.aclose()
    return measured


def _prepare(out: Path, video: Path) -> None:
    out.mkdir()
    (out / "source.mp4").symlink_to(video)


def run(quick: bool) -> list[dict]:
    from shared.models.llm import stop_embedded_servers

    config = settings(llm_model=MODEL)
    lengths = (60.0, 150.0) if quick else (150.0, 600.0)
    try:
        measured = asyncio.run(_measure(config, lengths))
    finally:
        stop_embedded_servers()
    lines = []
    longest = max(measured)
    for duration, (elapsed, timings, peak) in sorted(measured.items()):
        context = {"talk_s": round(duration, 1), "model": MODEL, "asr": config.asr_model,
                   "stages_s": timings, "peak_rss_mib": round(peak / 2**20)}  # fmt: skip
        if duration == longest:
            lines.append(result("repurpose_rtf", elapsed / duration, "x", TARGET_RTF, **context))
        lines.append(result(f"repurpose_peak_rss_{duration:.0f}s", peak / 2**20, "MiB",
                            measured[min(measured)][2] / 2**20, **context))  # fmt: skip
    return lines


if __name__ == "__main__":
    main("repurposer_pipeline", run)
