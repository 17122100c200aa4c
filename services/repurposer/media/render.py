"""Short captioned clips: a frame-accurate cut, re-encoded to H.264/AAC with the captions
burned in, as a 16:9 frame or a 9:16 centre crop; audio-only sources become an audiogram
(waveform on the brand's background). Plus a JPEG thumbnail per clip."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from services.repurposer.media.captions import build_ass
from services.repurposer.media.errors import MediaError, RenderError
from services.repurposer.media.probe import probe
from services.repurposer.media.runner import Progress, ffmpeg_path, run_ffmpeg
from services.repurposer.model import Aspect, BrandStyle, ClipFile, MediaInfo, Word

CAPTIONS_FILE = "captions.ass"  # FFmpeg runs in the temporary folder: no path to escape
AUDIOGRAM_FPS = 25
AUDIO_RATE = 48_000
PLACEHOLDER_HIGHLIGHT = -1  # render_clip does not know which highlight it cut


def frame_size(aspect: Aspect, height: int) -> tuple[int, int]:
    """(width, height) of a clip: ``height`` is the 16:9 height and the 9:16 width."""
    long_side = _even(height * 16 / 9)
    return (long_side, _even(height)) if aspect == "16:9" else (_even(height), long_side)


def render_clip(
    src: Path,
    *,
    start: float,
    end: float,
    words: list[Word],
    out: Path,
    aspect: Aspect,
    style: BrandStyle,
    info: MediaInfo,
    height: int = 720,
    preset: str = "veryfast",
    progress: Progress | None = None,
) -> ClipFile:
    """Cut ``[start, end]`` of ``src`` (seconds of the recording) into an MP4 at ``out``.

    Returns a ``ClipFile`` whose ``highlight`` is ``PLACEHOLDER_HIGHLIGHT``, ``path`` the
    absolute output path and ``thumbnail`` empty: the caller sets those three (``model_copy``).

    Re-encoded, never stream-copied, so the cut lands on the exact frame; the input-side seek
    makes the clip's clock start at 0, which is also what the caption times are shifted to.
    """
    if end <= start:
        raise ValueError(f"empty clip: start {start} is not before end {end}")
    duration = end - start
    width, out_height = frame_size(aspect, height)
    src, out = src.resolve(), out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.part")
    with tempfile.TemporaryDirectory(prefix="ascent-render-") as workdir:
        captions = ""
        if any(w.end > start and w.start < end for w in words):
            script = build_ass(
                words, clip_start=start, clip_end=end, width=width, height=out_height, style=style
            )
            (Path(workdir) / CAPTIONS_FILE).write_text(script, encoding="utf-8")
            captions = f",ass={CAPTIONS_FILE}"
        if info.has_video:
            inputs = ["-ss", f"{start:.3f}", "-i", ffmpeg_path(src)]
            picture = f"[0:V:0]{_frame_filter(aspect, width, out_height)}{captions}[v]"
            audio_in = "[0:a:0]"
        else:
            inputs = [
                "-f", "lavfi", "-i",
                f"color=c=0x{style.background_colour[1:]}:s={width}x{out_height}"
                f":r={AUDIOGRAM_FPS}",
                "-ss", f"{start:.3f}", "-i", ffmpeg_path(src),
            ]  # fmt: skip
            picture = _audiogram_graph(width, out_height, style, captions)
            audio_in = "[1:a:0]"
        # async/first_pts pad or trim the audio so it starts at 0 with the picture.
        sound = f"{audio_in}aresample={AUDIO_RATE}:async=1:first_pts=0"
        sound += ",asplit[a][wave]" if not info.has_video else "[a]"
        run = run_ffmpeg(
            [
                *inputs,
                "-filter_complex", f"{sound};{picture}",
                "-map", "[v]", "-map", "[a]", "-t", f"{duration:.3f}",
                "-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "128k",
                "-movflags", "+faststart",
                "-f", "mp4", ffmpeg_path(partial),
            ],
            total=duration, progress=progress, cwd=Path(workdir),
        )  # fmt: skip
    if run.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RenderError(f"Could not render {out.name} from {src.name}", run.log_text)
    os.replace(partial, out)
    return ClipFile(
        highlight=PLACEHOLDER_HIGHLIGHT,
        path=str(out),
        thumbnail="",
        aspect=aspect,
        width=width,
        height=out_height,
        duration=_probed_duration(out),
        audiogram=not info.has_video,
    )


def thumbnail(clip: Path, out: Path, at: float | None = None) -> Path:
    """A JPEG of the clip's frame at ``at`` seconds (default: a third of the way in)."""
    if at is None:
        at = _probed_duration(clip) / 3
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.part")
    run = run_ffmpeg(
        ["-ss", f"{at:.3f}", "-i", ffmpeg_path(clip), "-map", "0:v:0", "-frames:v", "1",
         "-q:v", "3", "-c:v", "mjpeg", "-f", "image2", ffmpeg_path(partial)],
    )  # fmt: skip
    if run.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise RenderError(f"Could not take a thumbnail of {clip.name} at {at:.2f} s", run.log_text)
    os.replace(partial, out)
    return out


def _frame_filter(aspect: Aspect, width: int, height: int) -> str:
    if aspect == "16:9":
        fit = (
            f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black"
        )
    else:
        # Centre crop to 9:16 (from a portrait source, trim top and bottom instead).
        fit = f"crop='min(iw,ih*9/16)':'min(ih,iw*16/9)',scale={width}:{height}"
    return f"{fit},setsar=1"


def _audiogram_graph(width: int, height: int, style: BrandStyle, captions: str) -> str:
    wave_height = _even(height * 0.3)
    # Keep the waveform clear of the captions: centred, or in the upper part when the
    # captions sit in the middle.
    wave_y = (height - wave_height) // 2 if style.position == "bottom" else height // 8
    return (
        f"[wave]showwaves=s={width}x{wave_height}:mode=cline:scale=sqrt:rate={AUDIOGRAM_FPS}"
        f":colors=0x{style.highlight_colour[1:]}[waves];"
        f"[0:v][waves]overlay=0:{wave_y}:shortest=1{captions},setsar=1[v]"
    )


def _probed_duration(path: Path) -> float:
    try:
        return probe(path).duration
    except MediaError as error:
        raise RenderError(f"{path.name} is not a readable video: {error.message}") from error


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)
