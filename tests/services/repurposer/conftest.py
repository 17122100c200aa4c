"""Real speech for the repurposer's tests: the packaged LibriVox clips and an espeak-ng talk
(about 2.3 minutes, four topics), plus an H.264 video of it. Built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.repurposer.model import Sentence
from services.repurposer.samples import SampleTalk, build_talk, make_video
from services.repurposer.sentences import sentences_from_text


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("repurposer-media")


@pytest.fixture(scope="session")
def sample_talk(media_dir: Path) -> SampleTalk:
    return build_talk(media_dir / "talk.wav")


@pytest.fixture(scope="session")
def talk_video(sample_talk: SampleTalk, media_dir: Path) -> Path:
    return make_video(sample_talk.audio, media_dir / "talk.mp4", topics=sample_talk.topics)


@pytest.fixture(scope="session")
def talk_sentences(sample_talk: SampleTalk) -> list[Sentence]:
    """The talk's script as timed sentences: each topic's span is shared out by word count
    (less the silence between sentences), words spread evenly inside each sentence."""
    per_topic = len(sample_talk.sentences) // len(sample_talk.topics)
    gap = 0.35
    spans: list[tuple[float, float]] = []
    for t, (_, start, end) in enumerate(sample_talk.topics):
        lines = sample_talk.sentences[t * per_topic : (t + 1) * per_topic]
        counts = [len(line.split()) for line in lines]
        speaking = end - start - gap * len(lines)
        clock = start
        for count in counts:
            length = speaking * count / sum(counts)
            spans.append((clock, clock + length))
            clock += length + gap
    return sentences_from_text(sample_talk.sentences, spans)
