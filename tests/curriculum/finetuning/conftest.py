"""What the GGUF tests share: the packaged tokenizer's home, a tiny random Qwen2 with the real
vocabulary, and prompts to decode with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from curriculum.mlops.serving.tiny import save_tiny_qwen2

N_LAYERS = 2
PROMPTS = ([151644, 872, 198, 7985, 264, 729], [750, 75698, 1445, 982])  # Qwen2.5 BPE ids


@pytest.fixture(scope="module")
def packaged_home(data_home):
    # The tokenizer reference is the packaged GGUF, assembled once in the shared test home.
    from shared.config import get_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASCENT_DATA_HOME", str(data_home))
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> tuple[object, Path]:
    """The model (never modified: tests that quantize it take a copy) and its saved folder."""
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    return save_tiny_qwen2(folder, layers=N_LAYERS), folder
