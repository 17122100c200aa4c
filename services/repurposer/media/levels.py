"""Peak level of a recording's audio, sampled so long files are checked in about a second."""

from __future__ import annotations

import re
from pathlib import Path

from services.repurposer.media.errors import FFmpegError
from services.repurposer.media.runner import ffmpeg_path, run_ffmpeg

_MAX_VOLUME = re.compile(r"max_volume:\s*(-?inf|-?[\d.]+) dB")


def sample_windows(duration: float, *, windows: int, window: float) -> list[float]:
    """Start times of ``windows`` evenly spaced windows; a single one when they would cover
    the whole recording anyway."""
    if duration <= windows * window:
        return [0.0]
    spacing = (duration - window) / (windows - 1) if windows > 1 else 0.0
    return [round(i * spacing, 3) for i in range(windows)]


def max_volume(path: Path, duration: float, *, windows: int = 10, window: float = 3.0) -> float:
    """Loudest sample (dBFS, ``-inf`` for digital silence) of the first audio stream, measured
    by FFmpeg's ``volumedetect`` over evenly spaced windows (the whole file when short)."""
    starts = sample_windows(duration, windows=windows, window=window)
    args: list[str] = []
    if starts == [0.0]:
        args += ["-i", ffmpeg_path(path)]
    else:
        for start in starts:
            args += ["-ss", f"{start:.3f}", "-t", f"{window:.3f}", "-i", ffmpeg_path(path)]
    joined = "".join(f"[{i}:a:0]" for i in range(len(starts)))
    graph = f"{joined}concat=n={len(starts)}:v=0:a=1,volumedetect[out]"
    found: list[float] = []

    def read(line: str) -> None:
        if match := _MAX_VOLUME.search(line):
            found.append(float(match.group(1)))

    run = run_ffmpeg(
        [*args, "-filter_complex", graph, "-map", "[out]", "-f", "null", "-"],
        loglevel="info",
        on_log_line=read,
    )
    if run.returncode != 0 or not found:
        raise FFmpegError("Could not measure the audio level", run.log_text)
    return found[-1]
