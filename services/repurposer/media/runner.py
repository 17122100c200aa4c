"""Running ffmpeg and ffprobe: progress from ``-progress pipe:1``, log lines streamed to a
callback, and only the log's tail kept, so hours of media never fill memory or a pipe."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.repurposer.media.errors import FFmpegError

Progress = Callable[[float, float], None]  # (seconds done, seconds in all)
LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class FFmpegRun:
    returncode: int
    log_tail: list[str]
    out_time: float  # seconds written to the output (decoded seconds for ``-f null``)

    @property
    def log_text(self) -> str:
        return "\n".join(self.log_tail)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FFmpegError(f"{name} is missing: install FFmpeg (the Debian package ffmpeg)")
    return path


def ffmpeg_path(path: Path) -> str:
    """The absolute path: FFmpeg would read a relative name such as ``concat:a|b`` as a
    protocol and one starting with ``-`` as an option."""
    return str(path.absolute())


def run_ffmpeg(
    args: Sequence[str],
    *,
    loglevel: str = "error",
    total: float | None = None,
    progress: Progress | None = None,
    on_log_line: Callable[[str], None] | None = None,
    cwd: Path | None = None,
) -> FFmpegRun:
    """Run ``ffmpeg args``; never raises on FFmpeg's failure (callers choose the error)."""
    command = [
        tool("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-y", "-v", loglevel,
        "-progress", "pipe:1", *args,
    ]  # fmt: skip
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    with subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    ) as proc:
        # stderr is drained on a thread so neither pipe can fill up and stall FFmpeg.
        reader = threading.Thread(
            target=_read_log, args=(proc.stderr, tail, on_log_line), daemon=True
        )
        reader.start()
        out_time = 0.0
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                out_time = max(out_time, int(value) / 1e6)
                if progress is not None:
                    # Codec padding can run a little past the probed total.
                    progress(min(out_time, total) if total else out_time, total or 0.0)
        reader.join()
        returncode = proc.wait()
    return FFmpegRun(returncode=returncode, log_tail=list(tail), out_time=out_time)


def _read_log(stream, tail: deque[str], on_log_line: Callable[[str], None] | None) -> None:
    for line in stream:
        line = line.rstrip("\n")
        tail.append(line)
        if on_log_line is not None:
            on_log_line(line)


def ffprobe_json(path: Path) -> tuple[dict | None, str]:
    """ffprobe's format and streams as a dict, or ``None`` and its error output."""
    done = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format",
         "-show_streams", ffmpeg_path(path)],
        capture_output=True, text=True, errors="replace",
    )  # fmt: skip
    if done.returncode != 0:
        return None, done.stderr.strip()
    try:
        return json.loads(done.stdout), done.stderr.strip()
    except json.JSONDecodeError:
        return None, done.stderr.strip() or "ffprobe printed no JSON"
