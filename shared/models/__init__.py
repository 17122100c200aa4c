"""Model library: packaged weights, the LLM gateway, embeddings and speech recognition."""

import os

# Every model here comes from an installed package; never let a library reach for a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from shared.models.llm import ChatResult, LLMError, LLMGateway, LLMTruncated
from shared.models.registry import (
    MODELS,
    ModelCorrupt,
    ModelNotInstalled,
    ModelRegistry,
    get_model,
)

__all__ = [
    "MODELS",
    "ChatResult",
    "LLMError",
    "LLMGateway",
    "LLMTruncated",
    "ModelCorrupt",
    "ModelNotInstalled",
    "ModelRegistry",
    "get_model",
]
