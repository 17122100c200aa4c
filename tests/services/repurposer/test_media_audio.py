"""Audio extraction to 16 kHz mono WAV and the loudness profile, with real FFmpeg."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from services.repurposer.media.audio import extract_audio, loudness_profile
from services.repurposer.media.errors import FFmpegError
from services.repurposer.samples import SampleTalk


def audio_stream(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_streams", "-of", "json",
         str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out)["streams"][0]


def test_extract_audio_from_video_gives_16k_mono_of_the_same_length(
    talk_video: Path, tmp_path: Path
) -> None:
    seen: list[tuple[float, float]] = []
    wav = extract_audio(
        talk_video, tmp_path / "out" / "audio.wav", progress=lambda d, t: seen.append((d, t))
    )
    stream = audio_stream(wav)
    assert stream["codec_name"] == "pcm_s16le"
    assert (int(stream["sample_rate"]), stream["channels"]) == (16000, 1)
    source = float(audio_stream(talk_video)["duration"])
    assert float(stream["duration"]) == pytest.approx(source, abs=0.05)
    # Progress rises to the total and never past it.
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == pytest.approx(source, abs=0.05)
    assert all(t == pytest.approx(source, abs=0.05) and d <= t for d, t in seen)
    assert [p.name for p in wav.parent.iterdir()] == ["audio.wav"]  # no partial file left


def test_extract_audio_downmixes_and_resamples(tmp_path: Path) -> None:
    stereo = tmp_path / "tone.mka"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=44100:d=3",
         "-ac", "2", "-c:a", "flac", str(stereo)],
        check=True,
    )  # fmt: skip
    wav = extract_audio(stereo, tmp_path / "tone.wav")
    stream = audio_stream(wav)
    assert (int(stream["sample_rate"]), stream["channels"]) == (16000, 1)
    assert float(stream["duration"]) == pytest.approx(3.0, abs=0.05)


def test_failed_extraction_leaves_nothing(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a recording\n")
    dst = tmp_path / "audio.wav"
    with pytest.raises(FFmpegError) as caught:
        extract_audio(text, dst)
    assert "Invalid data" in caught.value.log_tail
    assert list(tmp_path.iterdir()) == [text]


def test_loudness_is_higher_in_speech_than_in_inserted_silence(
    sample_talk: SampleTalk, tmp_path: Path
) -> None:
    # 8 s of speech, 6 s of silence, 8 s of speech.
    joined = tmp_path / "gap.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(sample_talk.audio), "-filter_complex",
         "[0:a]atrim=0:8,asetpts=N/SR/TB[a];aevalsrc=0:d=6:s=16000[s];"
         "[0:a]atrim=10:18,asetpts=N/SR/TB[b];[a][s][b]concat=n=3:v=0:a=1",
         str(joined)],
        check=True,
    )  # fmt: skip
    profile = loudness_profile(joined, step=0.5)
    assert profile.step == 0.5
    assert len(profile.values) == pytest.approx(22 / 0.5, abs=1)
    speech = profile.window(1.0, 7.0) + profile.window(15.0, 21.0)
    silence = profile.window(9.5, 12.5)  # the middle of the gap, clear of the 3 s window
    assert min(speech) > -35.0
    assert max(silence) <= -69.0
    assert profile.integrated == pytest.approx(-21.0, abs=6.0)
    # Values are centred on their step: the fully silent run is centred on the gap (11 s),
    # not 1.5 s later as the raw 3 s short-term windows would put it.
    quiet = [(i + 0.5) * profile.step for i, v in enumerate(profile.values) if v <= -69.0]
    assert (quiet[0] + quiet[-1]) / 2 == pytest.approx(11.0, abs=0.5)
