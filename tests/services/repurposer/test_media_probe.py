"""Probing and validating uploads with real FFmpeg on real and deliberately broken files."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from services.repurposer.media.errors import MediaError
from services.repurposer.media.probe import probe, validate
from services.repurposer.samples import SampleTalk

LIMITS = {"min_duration": 2.0, "max_duration": 4 * 3600.0}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def first_half(src: Path, out: Path) -> Path:
    with src.open("rb") as f:
        out.write_bytes(f.read(src.stat().st_size // 2))
    return out


def wav_with_format_tag(out: Path, tag: int, seconds: float = 5.0) -> Path:
    """A RIFF WAVE file whose header names codec ``tag`` over zeroed data."""
    data = bytes(int(16000 * 2 * seconds))
    fmt = struct.pack("<HHIIHH", tag, 1, 16000, 32000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    out.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return out


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, sample_talk: SampleTalk) -> Path:
    """Broken and unusable uploads, each named ``<expected code>-<what>.<ext>``."""
    root = tmp_path_factory.mktemp("bad-media")
    rng = random.Random(7)
    (root / "not_media-random.mp4").write_bytes(bytes(rng.getrandbits(8) for _ in range(65536)))
    (root / "not_media-text.mp4").write_text("Meeting notes: we talked about coffee.\n" * 50)
    (root / "empty-zero.mp4").write_bytes(b"")
    # MP4 with its index at the end (FFmpeg's default) and one with it in front (faststart).
    short = root / "short.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:r=25", "-t", "8", "-i", str(sample_talk.audio),
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(short))  # fmt: skip
    first_half(short, root / "truncated-index_at_end.mp4")
    faststart = root / "faststart.mp4"
    ffmpeg("-i", str(short), "-c", "copy", "-movflags", "+faststart", str(faststart))
    first_half(faststart, root / "truncated-index_in_front.mp4")
    first_half(sample_talk.audio, root / "truncated-half.wav")
    silent = root / "silent-anullsrc.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "5", str(silent))
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:r=25", "-t", "5", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           str(root / "no_streams-video_only.mp4"))  # fmt: skip
    # A playlist naming a segment elsewhere on disk: FFmpeg would happily play it.
    segment = root / "elsewhere.ts"
    ffmpeg("-t", "4", "-i", str(sample_talk.audio), "-c:a", "aac", str(segment))
    (root / "not_media-playlist.mp4").write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{segment}\n#EXT-X-ENDLIST\n"
    )
    wav_with_format_tag(root / "unsupported_codec-unknown_tag.wav", 0x7A21)
    # A known codec (MP3) whose data never decodes.
    wav_with_format_tag(root / "unsupported_codec-undecodable.wav", 0x0055)
    return root


@pytest.mark.parametrize(
    "name",
    [
        "not_media-random.mp4",
        "not_media-text.mp4",
        "not_media-playlist.mp4",
        "empty-zero.mp4",
        "truncated-index_at_end.mp4",
        "truncated-index_in_front.mp4",
        "truncated-half.wav",
        "silent-anullsrc.wav",
        "no_streams-video_only.mp4",
        "unsupported_codec-unknown_tag.wav",
        "unsupported_codec-undecodable.wav",
    ],
)
def test_each_unusable_upload_is_refused_with_its_code(bad_files: Path, name: str) -> None:
    expected = name.split("-")[0]
    with pytest.raises(MediaError) as caught:
        validate(bad_files / name, **LIMITS)
    assert caught.value.code == expected, caught.value.message
    assert caught.value.message and str(bad_files) not in caught.value.message


def test_the_uncut_files_behind_the_broken_ones_pass(bad_files: Path) -> None:
    # The truncation tests would be empty if the originals were refused too.
    for name in ("short.mp4", "faststart.mp4"):
        info = validate(bad_files / name, **LIMITS)
        assert info.has_video and info.has_audio
        assert info.duration == pytest.approx(8.0, abs=0.1)
    assert validate(bad_files / "elsewhere.ts", **LIMITS).format_name == "mpegts"


def test_probe_describes_the_talk_video(talk_video: Path, sample_talk: SampleTalk) -> None:
    info = probe(talk_video)
    assert "mp4" in info.format_name
    assert (info.has_video, info.has_audio) == (True, True)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.fps) == (1280, 720, 25.0)
    assert info.channels == 1 and info.sample_rate == 16000
    assert info.duration == pytest.approx(sample_talk.duration, abs=0.1)
    assert info.size == talk_video.stat().st_size


def test_probe_describes_a_wav_by_its_content_not_its_name(
    sample_talk: SampleTalk, tmp_path: Path
) -> None:
    disguised = tmp_path / "talk.mp4"
    shutil.copy(sample_talk.audio, disguised)
    info = probe(disguised)
    assert info.format_name == "wav"
    assert (info.has_video, info.has_audio) == (False, True)
    assert (info.audio_codec, info.sample_rate, info.channels) == ("pcm_s16le", 16000, 1)
    assert info.duration == pytest.approx(sample_talk.duration, abs=0.01)


def test_validate_accepts_the_talk_quickly(talk_video: Path, sample_talk: SampleTalk) -> None:
    for path in (talk_video, sample_talk.audio):
        started = time.perf_counter()
        info = validate(path, **LIMITS)
        # Head, tail and sampled windows only: far less than decoding 2+ minutes of media.
        assert time.perf_counter() - started < 10
        assert info.duration == pytest.approx(sample_talk.duration, abs=0.1)


def test_duration_limits(sample_talk: SampleTalk) -> None:
    with pytest.raises(MediaError) as short:
        validate(sample_talk.audio, min_duration=sample_talk.duration + 1, max_duration=1e6)
    assert short.value.code == "too_short"
    with pytest.raises(MediaError) as long:
        validate(sample_talk.audio, min_duration=1, max_duration=sample_talk.duration - 1)
    assert long.value.code == "too_long"
    assert "2:1" in long.value.message  # the talk's length, as minutes:seconds


def test_a_recording_streamed_without_a_duration_is_measured(
    sample_talk: SampleTalk, tmp_path: Path
) -> None:
    # Browser recorders write WebM as a live stream: no duration in the header.
    live = tmp_path / "recording.webm"
    ffmpeg("-t", "6", "-i", str(sample_talk.audio), "-c:a", "libopus", "-live", "1",
           "-f", "webm", str(live))  # fmt: skip
    info = validate(live, **LIMITS)
    assert info.audio_codec == "opus"
    assert info.duration == pytest.approx(6.0, abs=0.05)
