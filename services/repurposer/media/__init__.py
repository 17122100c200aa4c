"""Media handling with FFmpeg: probing and validating uploads, audio extraction and loudness,
caption scripts, and rendering captioned clips, audiograms and thumbnails."""

from services.repurposer.media.audio import extract_audio, loudness_profile
from services.repurposer.media.captions import build_ass
from services.repurposer.media.errors import (
    EmptyFileError,
    FFmpegError,
    MediaError,
    NoAudioError,
    NotMediaError,
    RenderError,
    SilentError,
    TooLongError,
    TooShortError,
    TruncatedError,
    UnsupportedCodecError,
)
from services.repurposer.media.probe import probe, validate
from services.repurposer.media.render import frame_size, render_clip, thumbnail

__all__ = [
    "EmptyFileError",
    "FFmpegError",
    "MediaError",
    "NoAudioError",
    "NotMediaError",
    "RenderError",
    "SilentError",
    "TooLongError",
    "TooShortError",
    "TruncatedError",
    "UnsupportedCodecError",
    "build_ass",
    "extract_audio",
    "frame_size",
    "loudness_profile",
    "probe",
    "render_clip",
    "thumbnail",
    "validate",
]
