"""Real speech for the repurposer's tests: the packaged LibriVox clips and an espeak-ng talk
(about 2.3 minutes, four topics), plus an H.264 video of it. Built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.repurposer.samples import SampleTalk, build_talk, make_video


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("repurposer-media")


@pytest.fixture(scope="session")
def sample_talk(media_dir: Path) -> SampleTalk:
    return build_talk(media_dir / "talk.wav")


@pytest.fixture(scope="session")
def talk_video(sample_talk: SampleTalk, media_dir: Path) -> Path:
    return make_video(sample_talk.audio, media_dir / "talk.mp4", topics=sample_talk.topics)
