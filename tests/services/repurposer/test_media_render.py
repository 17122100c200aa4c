"""Rendering clips with real FFmpeg: frame-accurate cuts with audio in sync, burned-in
captions, the 9:16 centre crop, audiograms and thumbnails. Clips are 5 s at 360 p."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from services.repurposer.media.errors import RenderError
from services.repurposer.media.probe import probe
from services.repurposer.media.render import frame_size, render_clip, thumbnail
from services.repurposer.model import BrandStyle, ClipFile, Word
from services.repurposer.samples import SampleTalk

FPS = 25  # the talk video's frame rate
HEIGHT = 360
LENGTH = 5.0
HIGHLIGHT_RGB = (0xFF, 0xD4, 0x00)  # BrandStyle's default highlight colour


def streams(path: Path) -> dict[str, dict]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def frame(path: Path, at: float, width: int, height: int, pix_fmt: str = "gray") -> np.ndarray:
    """One decoded frame as an array ((h, w) for gray, (h, w, 3) for rgb24)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{at:.3f}", "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    shape = (height, width) if pix_fmt == "gray" else (height, width, 3)
    return np.frombuffer(raw, np.uint8).reshape(shape).astype(np.int16)


def all_frames(path: Path, width: int, height: int) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width).astype(np.int16)


def pcm(path: Path, start: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Mono 16 kHz samples of a file's audio."""
    limit = ["-t", f"{duration:.3f}"] if duration else []
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{start:.3f}", *limit, "-i", str(path), "-ac", "1",
         "-ar", "16000", "-f", "s16le", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.int16).astype(np.float32)


def highlight_pixels(rgb: np.ndarray) -> int:
    close = np.abs(rgb - np.array(HIGHLIGHT_RGB)).max(axis=2) < 40
    return int(close.sum())


@pytest.fixture(scope="module")
def cut(sample_talk: SampleTalk) -> dict[str, float]:
    """A 5 s cut on the frame grid across the Coffee → Rockets slide change."""
    change = sample_talk.topics[1][1]
    start = math.floor((change - 2.0) * FPS) / FPS
    return {"start": start, "end": start + LENGTH, "change": round(change, 2)}


@pytest.fixture(scope="module")
def clip_words(cut: dict[str, float]) -> list[Word]:
    text = "Ninety two degrees is the sweet spot. Let us switch to rockets now friends"
    return [
        Word(start=cut["start"] + 0.2 + i * 0.35, end=cut["start"] + 0.5 + i * 0.35, text=t)
        for i, t in enumerate(text.split())
    ]


@pytest.fixture(scope="module")
def rendered(
    talk_video: Path,
    sample_talk: SampleTalk,
    cut: dict[str, float],
    clip_words: list[Word],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, ClipFile]:
    out = tmp_path_factory.mktemp("clips")
    video, audio = probe(talk_video), probe(sample_talk.audio)
    jobs = {
        "wide": (talk_video, video, "16:9", clip_words),
        "wide_plain": (talk_video, video, "16:9", []),
        "tall": (talk_video, video, "9:16", clip_words),
        "audiogram": (sample_talk.audio, audio, "16:9", clip_words),
    }
    return {
        name: render_clip(
            src,
            start=cut["start"],
            end=cut["end"],
            words=words,
            out=out / f"{name}.mp4",
            aspect=aspect,
            style=BrandStyle(),
            info=info,
            height=HEIGHT,  # the default preset: its B-frames shift timestamps if mishandled
        )
        for name, (src, info, aspect, words) in jobs.items()
    }


def test_audio_and_video_start_together_at_zero_and_last_the_cut(
    rendered: dict[str, ClipFile],
) -> None:
    for name, clip in rendered.items():
        found = streams(Path(clip.path))
        video, audio = found["video"], found["audio"]
        assert (video["codec_name"], audio["codec_name"]) == ("h264", "aac"), name
        assert video["pix_fmt"] == "yuv420p"
        assert abs(float(video["start_time"])) < 1 / FPS, name
        assert abs(float(audio["start_time"])) < 1 / FPS, name
        assert float(video["duration"]) == pytest.approx(LENGTH, abs=0.1), name
        assert float(audio["duration"]) == pytest.approx(LENGTH, abs=0.1), name
        assert clip.duration == pytest.approx(LENGTH, abs=0.1)


def test_the_file_starts_with_its_index_for_streaming(rendered: dict[str, ClipFile]) -> None:
    head = Path(rendered["wide"].path).read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)


def test_the_cut_is_frame_accurate(rendered: dict[str, ClipFile], cut: dict[str, float]) -> None:
    width, height = frame_size("16:9", HEIGHT)
    frames = all_frames(Path(rendered["wide_plain"].path), width, height)
    assert len(frames) == round(LENGTH * FPS)
    # The slide title (top third) reads Coffee in the first frame and Rockets in the last.
    titles = frames[:, : height // 3, :]
    to_first = np.abs(titles - titles[0]).mean(axis=(1, 2))
    to_last = np.abs(titles - titles[-1]).mean(axis=(1, 2))
    switch = int(np.argmax(to_last < to_first))
    # Source frame n shows Rockets once n / 25 passes the change time.
    expected = math.floor(cut["change"] * FPS) + 1 - round(cut["start"] * FPS)
    assert switch == expected


def test_the_sound_is_in_sync_with_the_source(
    rendered: dict[str, ClipFile], sample_talk: SampleTalk, cut: dict[str, float]
) -> None:
    def envelope(samples: np.ndarray) -> np.ndarray:
        usable = samples[: len(samples) // 160 * 160]
        return np.abs(usable).reshape(-1, 160).mean(axis=1)  # 10 ms steps

    reference = envelope(pcm(sample_talk.audio, cut["start"], LENGTH))
    for name in ("wide", "audiogram"):
        clip = envelope(pcm(Path(rendered[name].path)))[: len(reference)]
        lags = range(-20, 21)
        scores = [
            np.corrcoef(clip[20 + lag : len(clip) - 20 + lag], reference[20:-20])[0, 1]
            for lag in lags
        ]
        best = list(lags)[int(np.argmax(scores))]
        assert abs(best) <= 1, f"{name}: audio is {best * 10} ms off"  # within 10 ms
        assert max(scores) > 0.9


def test_captions_are_burned_in_and_nothing_else_changes(
    rendered: dict[str, ClipFile], clip_words: list[Word], cut: dict[str, float]
) -> None:
    width, height = frame_size("16:9", HEIGHT)
    at = clip_words[2].start - cut["start"] + 0.1  # "degrees" is being said
    with_captions = frame(Path(rendered["wide"].path), at, width, height, "rgb24")
    without = frame(Path(rendered["wide_plain"].path), at, width, height, "rgb24")
    band = slice(int(height * 0.7), height)  # the captions sit in the bottom 30 %
    rest = slice(0, int(height * 0.6))
    changed = np.abs(with_captions - without).max(axis=2) > 60
    assert changed[band].mean() > 0.01
    assert changed[rest].mean() < 0.001
    assert np.abs(with_captions[rest] - without[rest]).mean() < 1.0
    # The word being said is drawn in the highlight colour; the plain clip has none of it.
    assert highlight_pixels(with_captions[band]) > 30
    assert highlight_pixels(without) == 0


def test_vertical_clip_is_a_centre_crop(
    rendered: dict[str, ClipFile], talk_video: Path, cut: dict[str, float]
) -> None:
    clip = rendered["tall"]
    width, height = frame_size("9:16", HEIGHT)
    assert (clip.width, clip.height) == (width, height) == (360, 640)
    assert (streams(Path(clip.path))["video"]["width"], clip.height) == (360, 640)
    at = 0.5  # the Coffee slide, before any caption shows
    tall = frame(Path(clip.path), at, width, height)
    source = frame(talk_video, cut["start"] + at, 1280, 720)
    # Where each output pixel comes from in a 405 x 720 crop at horizontal offset x0.
    rows = (np.arange(height) * 720 / height).astype(int)
    crop_width = 720 * 9 / 16

    def mismatch(x0: float) -> float:
        cols = (x0 + np.arange(width) * crop_width / width).astype(int)
        expected = source[np.ix_(rows, cols)]
        top = slice(0, int(height * 0.6))
        return float(np.abs(tall[top] - expected[top]).mean())

    centre = mismatch((1280 - crop_width) / 2)
    assert centre < 2.0
    assert mismatch(0) > 4 * centre + 2  # a left crop misses the title
    assert mismatch(1280 - crop_width) > 4 * centre + 2


def test_audio_only_source_becomes_an_audiogram(
    rendered: dict[str, ClipFile], clip_words: list[Word], cut: dict[str, float]
) -> None:
    clip = rendered["audiogram"]
    width, height = frame_size("16:9", HEIGHT)
    assert clip.audiogram and (clip.width, clip.height) == (width, height)
    video = streams(Path(clip.path))["video"]
    assert (video["width"], video["height"]) == (width, height)
    at = clip_words[2].start - cut["start"] + 0.1
    picture = frame(Path(clip.path), at, width, height, "rgb24")
    background = np.array((0x11, 0x18, 0x27))
    corner = picture[:20, :20].reshape(-1, 3)
    assert np.abs(corner - background).max() <= 8  # the brand's background colour
    waves = picture[int(height * 0.35) : int(height * 0.65)]
    assert highlight_pixels(waves) > 500  # the waveform, drawn in the highlight colour
    captions = picture[int(height * 0.7) :]
    white = (captions.min(axis=2) > 200).sum()
    assert white > 100 and highlight_pixels(captions) > 30


def test_thumbnail_is_a_jpeg_frame_of_the_clip(
    rendered: dict[str, ClipFile], tmp_path: Path
) -> None:
    clip = rendered["tall"]
    out = thumbnail(Path(clip.path), tmp_path / "thumbs" / "tall.jpg")
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"
    image = streams(out)["video"]
    assert image["codec_name"] == "mjpeg"
    assert (image["width"], image["height"]) == (clip.width, clip.height)
    assert list(out.parent.iterdir()) == [out]


def test_progress_is_reported_up_to_the_clip_length(talk_video: Path, tmp_path: Path) -> None:
    seen: list[tuple[float, float]] = []
    render_clip(
        talk_video, start=10.0, end=12.0, words=[], out=tmp_path / "p.mp4", aspect="16:9",
        style=BrandStyle(), info=probe(talk_video), height=180, preset="ultrafast",
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert seen and all(total == pytest.approx(2.0) for _, total in seen)
    assert seen[-1][0] == pytest.approx(2.0, abs=0.1)


def test_a_failed_render_says_why_and_leaves_nothing(tmp_path: Path, talk_video: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    out = tmp_path / "out" / "clip.mp4"
    with pytest.raises(RenderError) as caught:
        render_clip(
            broken, start=0.0, end=2.0, words=[], out=out, aspect="16:9", style=BrandStyle(),
            info=probe(talk_video), height=180,
        )  # fmt: skip
    assert "Invalid data" in caught.value.log_tail
    assert not any(out.parent.iterdir())
