"""The audio every later stage reads: a 16 kHz mono WAV (what Whisper wants) and its loudness
over time (for highlight scoring)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from services.repurposer.media.errors import FFmpegError
from services.repurposer.media.probe import probe
from services.repurposer.media.runner import Progress, ffmpeg_path, run_ffmpeg
from services.repurposer.model import LoudnessProfile

SAMPLE_RATE = 16_000
LOUDNESS_FLOOR = -70.0  # LUFS: BS.1770's absolute gate; anything quieter is silence
SHORT_TERM_WINDOW = 3.0  # seconds, fixed by EBU R128

_FRAME = re.compile(r"\bt:\s*([\d.]+)\s.*\bS:\s*(-?inf|-?[\d.]+)")
_INTEGRATED = re.compile(r"^\s*I:\s*(-?[\d.]+) LUFS")


def extract_audio(
    src: Path, dst: Path, *, progress: Progress | None = None, total: float | None = None
) -> Path:
    """Decode the first audio stream of ``src`` to a 16 kHz mono 16-bit WAV at ``dst``.

    Written to a temporary name and renamed, so ``dst`` is either complete or absent.
    ``progress(seconds_done, total)`` is called as FFmpeg goes (total probed if not given).
    """
    if progress is not None and total is None:
        total = probe(src).duration
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(f".{dst.name}.part")
    run = run_ffmpeg(
        ["-i", ffmpeg_path(src), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
         "-c:a", "pcm_s16le", "-f", "wav", ffmpeg_path(partial)],
        total=total, progress=progress,
    )  # fmt: skip
    if run.returncode != 0:
        partial.unlink(missing_ok=True)
        raise FFmpegError(f"Could not extract the audio of {src.name}", run.log_text)
    os.replace(partial, dst)
    if progress is not None and total:
        progress(total, total)
    return dst


def loudness_profile(wav: Path, step: float = 0.5) -> LoudnessProfile:
    """Short-term loudness (LUFS, floored at -70) every ``step`` seconds, plus the integrated
    loudness, from FFmpeg's ``ebur128`` filter read as it streams.

    Value ``i`` is the 3-second short-term window centred on the middle of step ``i``
    (clamped at the ends), so a loud moment shows up where it happens, not 1.5 s later.
    """
    if step <= 0:
        raise ValueError("step must be positive")
    times: list[float] = []
    short_term: list[float] = []
    integrated: list[float] = []
    in_summary = False

    def read(line: str) -> None:
        nonlocal in_summary
        if "Summary:" in line:
            in_summary = True
        elif in_summary:
            if match := _INTEGRATED.match(line):
                integrated.append(float(match.group(1)))
        elif match := _FRAME.search(line):
            times.append(float(match.group(1)))
            short_term.append(max(LOUDNESS_FLOOR, float(match.group(2))))

    measure = ["-map", "0:a:0", "-af", "ebur128=framelog=info", "-f", "null", "-"]
    run = run_ffmpeg(["-i", ffmpeg_path(wav), *measure], loglevel="info", on_log_line=read)
    if run.returncode != 0:
        raise FFmpegError(f"Could not measure the loudness of {wav.name}", run.log_text)
    return LoudnessProfile(
        step=step,
        values=_centred_steps(times, short_term, step),
        integrated=integrated[-1] if integrated else None,
    )


def _centred_steps(times: list[float], short_term: list[float], step: float) -> list[float]:
    if not times:
        return []
    end = times[-1]
    # ebur128 reports every 100 ms; the first full 3 s window ends at t = 3.
    first_full = min(SHORT_TERM_WINDOW, end)
    values = []
    index = 0
    steps = max(1, round(end / step))
    for i in range(steps):
        wanted = min(max((i + 0.5) * step + SHORT_TERM_WINDOW / 2, first_full), end)
        while index + 1 < len(times) and times[index] < wanted - 1e-6:
            index += 1
        values.append(short_term[index])
    return values
