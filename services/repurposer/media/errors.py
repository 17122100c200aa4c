"""Why an upload is refused (``MediaError``, with a stable ``code`` for the API and UI) and why
an FFmpeg run failed (``FFmpegError``, carrying the end of FFmpeg's log)."""

from __future__ import annotations


class MediaError(Exception):
    """An upload we cannot use. ``code`` is stable (clients switch on it); ``message`` is for
    people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _CodedMediaError(MediaError):
    code_name = ""

    def __init__(self, message: str) -> None:
        super().__init__(self.code_name, message)


class NotMediaError(_CodedMediaError):
    code_name = "not_media"


class EmptyFileError(_CodedMediaError):
    code_name = "empty"


class NoAudioError(_CodedMediaError):
    code_name = "no_streams"


class UnsupportedCodecError(_CodedMediaError):
    code_name = "unsupported_codec"


class TooLongError(_CodedMediaError):
    code_name = "too_long"


class TooShortError(_CodedMediaError):
    code_name = "too_short"


class TruncatedError(_CodedMediaError):
    code_name = "truncated"


class SilentError(_CodedMediaError):
    code_name = "silent"


class FFmpegError(RuntimeError):
    """FFmpeg (or ffprobe) failed; ``log_tail`` holds the last lines it printed."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(f"{message}\n{log_tail}".rstrip())
        self.log_tail = log_tail


class RenderError(FFmpegError):
    """A clip, audiogram or thumbnail could not be rendered."""
