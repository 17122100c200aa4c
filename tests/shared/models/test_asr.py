import re
from pathlib import Path

import pytest

from shared.config import Settings
from shared.models.asr import Transcriber

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CLIP = "sense_and_sensibility_01_austen_64kb-0870"


def _reference(clip: str) -> list[str]:
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        if f"({clip})" in line:
            text = re.sub(r"</?s>|\(.*\)", "", line)
            return text.split()
    raise LookupError(clip)


def _normalise(text: str) -> list[str]:
    text = text.lower().replace("mr.", "mister")
    return re.sub(r"[^a-z' ]", " ", text).split()


def _wer(ref: list[str], hyp: list[str]) -> float:
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[-1] / len(ref)


@pytest.mark.parametrize("model", ["whisper-tiny.en", "whisper-base"])
def test_librivox_clip_with_word_timestamps(data_home, model):
    transcript = Transcriber(Settings(data_home=data_home), model=model).transcribe(
        LIBRIVOX / f"{CLIP}.wav"
    )
    assert transcript.language == "en"
    assert _wer(_reference(CLIP), _normalise(transcript.text)) < 0.15
    words = transcript.words
    assert len(words) >= 15
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= transcript.duration + 0.5 for w in words)
    dashwood = next(w for w in words if "dashwood" in w.text.lower())
    assert 0.5 < dashwood.start < 3.0  # spoken about a second in
