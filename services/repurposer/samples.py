"""Sample talks made from packaged speech, with their exact script.

Real recordings come from Debian's ``pocketsphinx-testdata`` (LibriVox, read by a person);
longer talks are voiced by ``espeak-ng`` from a script with distinct topics, questions and
emotional lines, so that chapters, highlights and transcription accuracy can be checked
against known text. Videos are made by FFmpeg from the audio and a slide per topic.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")

# One paragraph per topic; sentences end with . ? or ! so boundaries are known.
TOPICS: dict[str, list[str]] = {
    "Coffee": [
        "Welcome back to the show, today we are talking about coffee.",
        "Why does the same coffee taste so different from one morning to the next?",
        "The answer is mostly water temperature and the size of the grind.",
        "A fine grind extracts faster, so it can turn bitter in under a minute.",
        "A coarse grind needs more time, which is why a French press takes four minutes.",
        "I was honestly shocked when I first measured my kettle.",
        "It was boiling at one hundred degrees, and that burns the delicate flavours.",
        "Ninety two degrees is the sweet spot for most light roasts.",
    ],
    "Rockets": [
        "Let us switch to something completely different, reusable rockets.",
        "For sixty years every rocket booster was thrown away after a single flight.",
        "Imagine building a new airliner for every trip from London to New York!",
        "Landing a booster upright on a ship in the ocean sounded impossible.",
        "The engines relight on the way down and slow the booster from supersonic speed.",
        "Grid fins steer it through the thin upper atmosphere like a falling dart.",
        "The first landing made the whole control room scream with joy.",
        "Today the same booster can fly more than twenty times.",
    ],
    "Gardening": [
        "Now, a question from a listener about growing tomatoes on a balcony.",
        "Can you really grow tomatoes in a small pot on a windy balcony?",
        "Yes, but you need a container of at least twenty litres.",
        "Tomatoes need six hours of direct sunlight every single day.",
        "Water them deeply twice a week instead of a little every day.",
        "Shallow watering keeps the roots near the surface where they dry out.",
        "Cherry tomatoes are the most forgiving variety for beginners.",
        "My first harvest was tiny, but it was the best thing I ever tasted.",
    ],
    "Sleep": [
        "Our last topic is sleep, and it might be the most important one.",
        "What happens to your brain when you sleep badly for a whole week?",
        "Reaction times drop as much as if you had been drinking alcohol.",
        "The brain clears waste products mostly during deep sleep.",
        "A cool and dark bedroom helps you fall asleep faster.",
        "Screens late at night delay the release of melatonin.",
        "This is the one habit that changed my life more than any other.",
        "Thank you so much for listening, and see you next week.",
    ],
}


@dataclass(frozen=True)
class SampleTalk:
    audio: Path
    script: str  # exactly what is said, in order
    sentences: list[str]
    topics: list[tuple[str, float, float]]  # (topic, start, end) in seconds
    duration: float


def librivox_utterances() -> list[tuple[Path, str]]:
    """The packaged LibriVox WAVs (16 kHz) with their reference transcripts."""
    transcripts = LIBRIVOX_DIR / "transcription"
    if not transcripts.exists():
        raise FileNotFoundError(
            f"{LIBRIVOX_DIR} is missing: install the Debian package pocketsphinx-testdata"
        )
    pairs = []
    for line in transcripts.read_text().splitlines():
        text, _, utt = line.rpartition("(")
        text = text.replace("<s>", "").replace("</s>", "").strip()
        pairs.append((LIBRIVOX_DIR / f"{utt.strip(' )')}.wav", text))
    return pairs


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise FileNotFoundError(f"{tool} is missing: install the Debian package {package}")
    return path


def _duration(path: Path) -> float:
    out = subprocess.run(
        [
            _require("ffprobe", "ffmpeg"),
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip())


def speak(text: str, out: Path, *, voice: str = "en-us", words_per_minute: int = 165) -> Path:
    """Voice ``text`` with espeak-ng into a 16 kHz mono WAV."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(
        [
            _require("espeak-ng", "espeak-ng"),
            "-v",
            voice,
            "-s",
            str(words_per_minute),
            "-w",
            str(raw),
            text,
        ],
        check=True,
        capture_output=True,
    )
    _ffmpeg(["-i", str(raw), "-ar", "16000", "-ac", "1", str(out)])
    raw.unlink()
    return out


def _ffmpeg(args: list[str]) -> None:
    subprocess.run(
        [_require("ffmpeg", "ffmpeg"), "-nostdin", "-v", "error", "-y", *args],
        check=True,
        capture_output=True,
    )


def build_talk(out: Path, *, repeats: int = 1, gap: float = 0.35) -> SampleTalk:
    """A talk of every topic in order (``repeats`` times), one WAV per sentence joined with
    ``gap`` seconds of silence. About 2 minutes per repeat."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sentences: list[str] = []
    topics: list[tuple[str, float, float]] = []
    clock = 0.0
    with tempfile.TemporaryDirectory(prefix="ascent-talk-") as tmp:
        parts: list[Path] = []
        for round_ in range(repeats):
            for name, lines in TOPICS.items():
                topic_start = clock
                for i, line in enumerate(lines):
                    wav = speak(line, Path(tmp) / f"{round_}-{name}-{i}.wav")
                    parts.append(wav)
                    sentences.append(line)
                    clock += _duration(wav) + gap
                topics.append((name, topic_start, clock))
        silence = Path(tmp) / "gap.wav"
        _ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", str(gap), str(silence)])
        listing = Path(tmp) / "list.txt"
        listing.write_text("".join(f"file '{p}'\nfile '{silence}'\n" for p in parts))
        _ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(out)])
    return SampleTalk(
        audio=out,
        script=" ".join(sentences),
        sentences=sentences,
        topics=topics,
        duration=_duration(out),
    )


def make_video(
    audio: Path,
    out: Path,
    *,
    topics: list[tuple[str, float, float]] | None = None,
    size: str = "1280x720",
    fps: int = 25,
) -> Path:
    """An H.264/AAC MP4 of ``audio`` over a slide per topic (plain colour plus its name)."""
    font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
    filters = []
    for name, start, end in topics or []:
        filters.append(
            f"drawtext=fontfile={font}:text='{name}':fontcolor=white:fontsize=72:"
            f"x=(w-text_w)/2:y=h/4:enable='between(t,{start:.2f},{end:.2f})'"
        )
    vf = ",".join(filters) or "null"
    _ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"color=c=0x1f4e79:s={size}:r={fps}",
            "-i",
            str(audio),
            "-vf",
            vf,
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            str(out),
        ]
    )
    return out
