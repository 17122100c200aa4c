"""A service switched by configuration to a published fine-tune answers through it.

The artifact here is the packaged 0.5B GGUF published under a new name (the real fine-tune
takes 15 minutes to make; what is tested is the switch, not the training). The exporter's own
tests cover GGUF round trips."""

import asyncio
import shutil

import pytest

from curriculum.finetuning.lora import data
from services.reviewer.analysis.llm_review import LLMReview
from shared.config import Settings
from shared.models import llm
from shared.models.llm import LLMGateway
from shared.models.registry import MODELS, ArtifactRegistry, ModelRegistry

NAME = "qwen2.5-coder-0.5b-switch-test"


@pytest.mark.llm
def test_gateway_serves_the_published_model_named_in_settings(data_home, tmp_path):
    packaged = ModelRegistry(data_home / "models").path("qwen2.5-coder-0.5b")
    source = tmp_path / "artifact"
    source.mkdir()
    shutil.copyfile(packaged, source / "model.gguf")
    home = tmp_path / "home"
    ArtifactRegistry(home / "models").publish(
        NAME, source, kind="llm", license="Apache-2.0",
        provenance={"base_model": "qwen2.5-coder-0.5b", "command": "test"},
    )  # fmt: skip
    settings = Settings(data_home=home, llm_model=NAME, llm_parallel=1, llm_ctx=4096)
    gateway = LLMGateway(settings)
    # Sampling comes from the base model named in the provenance.
    assert gateway.default_sampling == MODELS["qwen2.5-coder-0.5b"].sampling
    example = next(e for e in data.reviewer_examples(20) if e.meta["kind"] == "sql")

    async def ask():
        review = await gateway.json(example.messages, LLMReview, max_tokens=400)
        await gateway.aclose()
        return review

    try:
        review = asyncio.run(ask())
    finally:
        server = llm._embedded.servers.pop(NAME, None)  # only ours; the session's stays up
        if server is not None:
            server.stop()
    assert isinstance(review, LLMReview)
    assert review.model_dump_json()
    # The server loaded the published copy, not the packaged file.
    log = (home / "logs" / f"llm-{NAME}.log").read_text(errors="replace")
    assert str(ArtifactRegistry(home / "models").path(NAME) / "model.gguf") in log
