"""What an upload is (``probe``) and whether we can use it (``validate``).

The container is judged by FFmpeg's probing of the bytes, never by the file name. Validation
stays fast on hours-long files: it decodes only the first and last seconds and samples the
audio level in a few short windows.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

from services.repurposer.media.errors import (
    EmptyFileError,
    NoAudioError,
    NotMediaError,
    SilentError,
    TooLongError,
    TooShortError,
    TruncatedError,
    UnsupportedCodecError,
)
from services.repurposer.media.levels import max_volume
from services.repurposer.media.runner import ffmpeg_path, ffprobe_json, run_ffmpeg
from services.repurposer.model import MediaInfo

# Demuxers that accept text or still images: FFmpeg "reads" them, but they are no recording.
_NOT_RECORDINGS = {"tty", "image2", "gif", "apng", "webp_pipe"}
# Playlists make FFmpeg open the files they name: an upload could pull in any file on disk.
_PLAYLISTS = {"hls", "applehttp", "dash", "concat"}
SILENCE_DB = -60.0  # a max_volume below this is microphone noise at most
EDGE_SECONDS = 3.0  # decoded at the head and at the tail


def probe(path: Path) -> MediaInfo:
    """Describe ``path`` with ffprobe. Raises ``EmptyFileError``, ``NotMediaError`` or
    ``TruncatedError`` (an MP4 whose index never got written)."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyFileError("The file is empty (0 bytes): the upload may not have finished.")
    data, log = ffprobe_json(path)
    if data is None:
        if "moov atom not found" in log and _starts_like_mp4(path):
            raise TruncatedError(
                "The MP4 file is incomplete: its index (moov atom) is missing, which happens "
                "when a recording or upload stops before the end."
            )
        raise NotMediaError(
            "This is not an audio or video file FFmpeg can read (it may be corrupt). "
            f"FFmpeg said: {_last_line(log).replace(f'{ffmpeg_path(path)}: ', '')}"
        )
    fmt = data.get("format", {})
    format_name = fmt.get("format_name", "")
    if format_name in _PLAYLISTS:
        raise NotMediaError(
            f"This is a playlist ({format_name}) that points at other files: upload the "
            "recording itself."
        )
    if format_name in _NOT_RECORDINGS or format_name.endswith("_pipe"):
        raise NotMediaError(f"This is a {format_name} file, not an audio or video recording.")
    streams = data.get("streams", [])
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    video = next((s for s in streams if _is_moving_picture(s)), None)
    duration = _duration(fmt, audio) or _demuxed_duration(path)
    return MediaInfo(
        format_name=format_name,
        duration=duration,
        size=size,
        has_video=video is not None,
        has_audio=audio is not None,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
        fps=_fps(video) if video else None,
        sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        channels=audio.get("channels") if audio else None,
    )


def validate(path: Path, *, min_duration: float, max_duration: float) -> MediaInfo:
    """``probe`` plus every check an upload must pass, cheapest first. Raises a ``MediaError``
    subclass; its ``code`` says which check failed."""
    info = probe(path)
    check_streams(info)
    check_duration(info, min_duration=min_duration, max_duration=max_duration)
    check_riff_size(path)
    check_head_decodes(path, info)
    check_tail_decodes(path, info)
    check_not_silent(path, info)
    return info


def check_streams(info: MediaInfo) -> None:
    if not info.has_audio:
        what = "video has no sound track" if info.has_video else "file has no audio stream"
        raise NoAudioError(f"This {what}: we need speech to transcribe.")
    if info.audio_codec is None or (info.has_video and info.video_codec is None):
        raise UnsupportedCodecError(
            "The file uses an audio or video codec FFmpeg does not know. "
            "Export it as MP4 (H.264/AAC), MP3 or WAV and upload it again."
        )


def check_duration(info: MediaInfo, *, min_duration: float, max_duration: float) -> None:
    if info.duration < min_duration:
        raise TooShortError(
            f"The recording lasts {info.duration:.1f} s; the shortest we accept is "
            f"{min_duration:g} s."
        )
    if info.duration > max_duration:
        raise TooLongError(
            f"The recording lasts {_clock(info.duration)}; the longest we accept is "
            f"{_clock(max_duration)}."
        )


def check_riff_size(path: Path) -> None:
    """A WAV cut short still plays, but its header gives the size it should have had."""
    with path.open("rb") as f:
        header = f.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return
    declared = struct.unpack("<I", header[4:8])[0] + 8
    # 0 and 0xFFFFFFFF are what streaming writers put when they do not know the size.
    if declared not in (8, 0xFFFFFFFF + 8) and path.stat().st_size < declared:
        raise TruncatedError(
            f"The WAV file is incomplete: its header promises {declared} bytes but only "
            f"{path.stat().st_size} arrived."
        )


def check_head_decodes(path: Path, info: MediaInfo) -> None:
    """Decode the first seconds of the audio (and picture) streams we will use."""
    window = min(EDGE_SECONDS, info.duration)
    maps = ["-map", "0:a:0"] + (["-map", "0:V:0"] if info.has_video else [])
    run = run_ffmpeg(["-t", f"{window:.3f}", "-i", ffmpeg_path(path), *maps, "-f", "null", "-"])
    if run.returncode != 0 or run.out_time < window * 0.5:
        raise UnsupportedCodecError(
            "FFmpeg cannot decode this file's "
            f"{_codecs(info)}: {_last_line(run.log_text) or 'nothing came out'}."
        )


def check_tail_decodes(path: Path, info: MediaInfo) -> None:
    """A file cut off mid-way keeps its full duration in the header but has no data at the end:
    seeking near the end then decodes (almost) nothing."""
    window = min(EDGE_SECONDS, info.duration)
    start = max(0.0, info.duration - window)
    run = run_ffmpeg(
        ["-ss", f"{start:.3f}", "-i", ffmpeg_path(path), "-map", "0:a:0", "-f", "null", "-"]
    )
    if run.returncode != 0 or run.out_time < window * 0.5:
        raise TruncatedError(
            f"The file is incomplete: it should last {_clock(info.duration)} but its last "
            "seconds are missing or unreadable. The upload or recording may have stopped early."
        )


def check_not_silent(path: Path, info: MediaInfo) -> None:
    loudest = max_volume(path, info.duration)
    if loudest < SILENCE_DB:
        level = "no sound at all" if math.isinf(loudest) else f"peaks at {loudest:.0f} dBFS"
        raise SilentError(
            f"The audio is silent ({level}): check the microphone or the exported track."
        )


def _duration(fmt: dict, audio: dict | None) -> float:
    # The audio stream's own duration: the end of the speech, not of a longer picture track.
    for source in (audio or {}, fmt):
        try:
            value = float(source.get("duration", "nan"))
        except ValueError:
            continue
        if math.isfinite(value) and value > 0:
            return value
    return 0.0


def _demuxed_duration(path: Path) -> float:
    """Files written as a stream (browser recordings in WebM) carry no duration: read the
    packets through without decoding."""
    run = run_ffmpeg(["-i", ffmpeg_path(path), "-map", "0:a:0?", "-c", "copy", "-f", "null", "-"])
    return run.out_time


def _is_moving_picture(stream: dict) -> bool:
    # Cover art in MP3/M4A is a one-frame "video" stream: such a file is audio-only.
    return stream.get("codec_type") == "video" and not stream.get("disposition", {}).get(
        "attached_pic"
    )


def _fps(video: dict) -> float | None:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(video.get(key, "0/0")).partition("/")
        try:
            rate = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if rate > 0:
            return round(rate, 3)
    return None


def _starts_like_mp4(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(12)[4:8] in (b"ftyp", b"mdat", b"free", b"wide", b"skip")


def _codecs(info: MediaInfo) -> str:
    codecs = [c for c in (info.audio_codec, info.video_codec) if c]
    return " and ".join(codecs) + " streams" if codecs else "streams"


def _last_line(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
